#!/usr/bin/env python3
"""What sealing costs (docs/SEALS.md): Ferry with its default seal against Ferry --no-seal, and
rsync for reference, over the same loopback sshd, on the same data, in one run; and what
`ferry verify` costs against reading the backup back.

    bench/seals.py [--sets large,small] [--runs 3] [--scale 0.5] [--link-mbit N] [--markdown FILE]

Needs root (a loop-mounted ext4 image, as bench/bench.py) and a build in build/. Per run and set,
the three take turns on each case:

  backup first      into an empty destination
  backup no change  the same tree again (a sealed run takes every hash from the previous seal)

then `ferry verify` of the sealed destination (the agent reads every file and sends back
records and hashes) is timed against a restore of it into an empty folder. Every figure is the
median over --runs runs; ratios are medians of per-run ratios. Times are durable for all three
(rsync's include a `sync -f` of the destination).

--link-mbit N paces the relay in front of sshd to N megabits a second each way: a link like a
real one to another machine, where the link limits and not the CPU that loopback leaves
shared by both ends (the seal's SHA-256 then runs beside the sending instead of competing).
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the data sets, the sshd and the timed run are bench.py's)

CASES = ("backup first", "backup no change")


def timed_verify(dest, server, work):
    """`ferry verify` of dest: wall time and bytes on the wire."""
    bench.warm(dest)
    seen = len(server.connections())
    args = [os.path.join(bench.BIN, "ferry"), "verify", "-i", server.key, "--port", str(server.relay_port),
            "--known-hosts", server.known_hosts, "--agent", os.path.join(bench.BIN, "ferry-agent"),
            f"root@127.0.0.1:{dest}"]
    start = time.monotonic()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"verify failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    for _ in range(200):
        if len(server.connections()) > seen:
            break
        time.sleep(0.02)
    conn = server.connections()[seen]
    return {"wall": wall, "wire": int(conn[0]) + int(conn[1])}


def one_run(name, src, mnt, server, rep, results):
    order = ("ferry", "ferry-noseal", "rsync")
    order = order if rep % 2 == 0 else tuple(reversed(order))
    dests = {t: os.path.join(mnt, f"{name}-{t}") for t in order}
    for d in dests.values():
        shutil.rmtree(d, ignore_errors=True)
    for case in CASES:
        for t in order:
            tool, extra = ("ferry", ["--no-seal"]) if t == "ferry-noseal" else (t, [])
            r = bench.timed(tool, "backup", src, dests[t], server, mnt, extra)
            r["wall_durable"] = r["wall_durable"] if tool == "rsync" else r["wall"]
            results.setdefault((name, case), {}).setdefault(t, []).append(r)
    verify = timed_verify(dests["ferry"], server, mnt)
    back = os.path.join(mnt, f"{name}-restored")
    shutil.rmtree(back, ignore_errors=True)
    restore = bench.timed("ferry", "restore", back, dests["ferry"], server, mnt)
    results.setdefault((name, "verify"), {}).setdefault("verify", []).append(verify)
    results.setdefault((name, "verify"), {}).setdefault("restore", []).append(restore)
    shutil.rmtree(back, ignore_errors=True)
    for d in dests.values():
        shutil.rmtree(d, ignore_errors=True)


def report(results):
    med = lambda rs, k: statistics.median(x[k] for x in rs)
    ratio = lambda a, b, k: statistics.median(x[k] / y[k] for x, y in zip(a, b))
    lines = ["| set | case | ferry (sealed) | ferry --no-seal | rsync | **sealed / unsealed** | CPU sealed / unsealed | "
             "sealed / rsync | unsealed / rsync |", "|---|---|---|---|---|---|---|---|---|"]
    for (name, case), by in results.items():
        if case == "verify":
            continue
        f, n, r = by["ferry"], by["ferry-noseal"], by["rsync"]
        lines.append(f"| {name} | {case} | {med(f, 'wall'):.2f} s | {med(n, 'wall'):.2f} s | {med(r, 'wall_durable'):.2f} s | "
                     f"**{ratio(f, n, 'wall'):.3f}** | {ratio(f, n, 'cpu'):.3f} | "
                     f"{statistics.median(x['wall'] / y['wall_durable'] for x, y in zip(f, r)):.2f} | "
                     f"{statistics.median(x['wall'] / y['wall_durable'] for x, y in zip(n, r)):.2f} |")
    lines += ["", "| set | verify | restore (reads it back) | verify / restore | wire verify | wire restore |",
              "|---|---|---|---|---|---|"]
    for (name, case), by in results.items():
        if case != "verify":
            continue
        v, r = by["verify"], by["restore"]
        lines.append(f"| {name} | {med(v, 'wall'):.2f} s | {med(r, 'wall'):.2f} s | {ratio(v, r, 'wall'):.2f} | "
                     f"{bench.human(med(v, 'wire'))} | {bench.human(med(r, 'wire'))} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="large,small")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--work", default="/var/tmp/ferry-bench-seals")
    ap.add_argument("--image-gib", type=int, default=12)
    ap.add_argument("--link-mbit", type=float, default=0, help="pace the link to this many Mbit/s (0: loopback)")
    ap.add_argument("--markdown", help="append the result table to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("seals.py needs root: it mounts an ext4 image, and the tools keep ownership")
    with bench.data_image(args.work, args.image_gib) as mnt:
        server = None
        try:
            server = bench.Server(mnt, int(args.link_mbit * 1e6 / 8))
            pools = bench.Pools(random.Random(20261123))
            makers = {"small": bench.make_small, "large": bench.make_large}
            results = {}
            t0 = time.monotonic()
            for name in [s for s in args.sets.split(",") if s]:
                src = os.path.join(mnt, f"{name}-source")
                os.makedirs(src)
                makers[name](src, random.Random(f"{name}-data"), pools, args.scale)
                for rep in range(args.runs):
                    print(f"{name} run {rep + 1}/{args.runs}", file=sys.stderr)
                    one_run(name, src, mnt, server, rep, results)
                shutil.rmtree(src)
            link = f" --link-mbit {args.link_mbit:g}" if args.link_mbit else ""
            header = (f"`bench/seals.py --sets {args.sets} --runs {args.runs} --scale {args.scale}{link}` "
                      f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {time.monotonic() - t0:.0f} s; "
                      f"medians of {args.runs} runs; times durable for all)")
            table = report(results)
            print(header + "\n\n" + table)
            if args.markdown:
                with open(args.markdown, "a") as f:
                    f.write(header + "\n\n" + table + "\n\n")
        finally:
            if server:
                server.stop()


if __name__ == "__main__":
    main()
