#!/usr/bin/env python3
"""Ferry's snapshots against rsync's way of keeping history (`rsync --link-dest`, as rsnapshot
does it), over the same loopback sshd, on the same data, in one run.

    bench/snapshots.py [--runs 3] [--scale 0.5] [--snapshots 10] [--markdown FILE]

Needs root (a loop-mounted ext4 image, as bench/bench.py) and a build in build/. Per run, each
tool makes --snapshots snapshots of the same "home" set into a store of its own:

  first      the first snapshot (everything is new)
  no change  a second snapshot of the same tree
  1 % edits  a snapshot after bench.py's mutation (1 % of files edited, 1 % deleted, 1 % added)

then goes on with one mutation before each further snapshot, and the store's size is measured
with `du -s` (hard links counted once). Ferry runs `ferry backup --snapshot`; rsync runs
`rsync -aHAX --numeric-ids --delete --link-dest=<previous> SRC/ host:STORE/<n>/`. Times are
durable for both (rsync's include a `sync -f` of the store, Ferry syncs before it reports), and
every figure is the median over --runs runs, the tools taking turns.
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

CASES = ("first", "no change", "1 % edits")


def du_bytes(path):
    out = subprocess.run(["du", "-s", "--block-size=1", path], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0])


def one_series(tool, base, work, server, pools, snapshots):
    """Makes the snapshots of one tool; returns the figures of the three cases and the du."""
    src = os.path.join(work, f"src-{tool}")
    store = os.path.join(work, f"store-{tool}")
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)
    subprocess.run(["cp", "-a", base, src], check=True)
    os.makedirs(store)
    rng = random.Random("snapshot-mutations")  # the same edits for both tools
    figures = {}
    for n in range(snapshots):
        if n >= 2:
            bench.mutate(src, rng, pools, large=False)
        if tool == "ferry":
            r = bench.timed("ferry", "backup", src, store, server, work, ["--snapshot"])
        else:
            extra = ["--delete"] + ([f"--link-dest={store}/{n - 1:03d}"] if n > 0 else [])
            r = bench.timed("rsync", "backup", src, os.path.join(store, f"{n:03d}"), server, work, extra)
        if n < len(CASES):
            figures[CASES[n]] = r
    newest = sorted(e for e in os.listdir(store) if e[0].isdigit())[-1]
    problem = bench.same_tree(src, os.path.join(store, newest))
    if problem:
        sys.exit(f"{tool}: the last snapshot is not the source: {problem}")
    figures["du"] = du_bytes(store)
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--snapshots", type=int, default=10)
    ap.add_argument("--work", default="/var/tmp/ferry-bench-snapshots")
    ap.add_argument("--image-gib", type=int, default=12)
    ap.add_argument("--markdown", help="append the result table to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("snapshots.py needs root: it mounts an ext4 image, and both tools keep ownership")
    with bench.data_image(args.work, args.image_gib) as mnt:
        run_series(args, mnt)


def run_series(args, mnt):
    server = None
    try:
        server = bench.Server(mnt)
        pools = bench.Pools(random.Random(20261123))
        base = os.path.join(mnt, "home-source")
        os.makedirs(base)
        bench.make_home(base, random.Random("home-data"), pools, args.scale)
        results = {"ferry": [], "rsync": []}
        t0 = time.monotonic()
        for rep in range(args.runs):
            for tool in (("ferry", "rsync") if rep % 2 == 0 else ("rsync", "ferry")):
                print(f"run {rep + 1}: {tool}", file=sys.stderr)
                results[tool].append(one_series(tool, base, mnt, server, pools, args.snapshots))
        med = {t: {c: {k: statistics.median(r[c][k] for r in rs) for k in ("wall_durable", "cpu", "rss_kib", "wire")}
                   for c in CASES} for t, rs in results.items()}
        du = {t: statistics.median(r["du"] for r in rs) for t, rs in results.items()}
        lines = ["| case | ferry s | rsync s | time ratio | CPU ratio | wire ratio | peak RSS ratio |",
                 "|---|---|---|---|---|---|---|"]
        for c in CASES:
            f, r = med["ferry"][c], med["rsync"][c]
            lines.append(f"| {c} | {f['wall_durable']:.2f} | {r['wall_durable']:.2f} | "
                         f"{f['wall_durable'] / r['wall_durable']:.2f} | {f['cpu'] / r['cpu']:.2f} | "
                         f"{f['wire'] / r['wire']:.2f} | {f['rss_kib'] / r['rss_kib']:.2f} |")
        lines.append(f"| store after {args.snapshots} snapshots (du) | {bench.human(du['ferry'])} | "
                     f"{bench.human(du['rsync'])} | {du['ferry'] / du['rsync']:.2f} (space) | | | |")
        header = (f"`bench/snapshots.py --runs {args.runs} --scale {args.scale} --snapshots {args.snapshots}` "
                  f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {time.monotonic() - t0:.0f} s; median of "
                  f"{args.runs} runs; ratios are Ferry / rsync --link-dest, times durable for both)")
        table = "\n".join(lines)
        print(header + "\n\n" + table)
        if args.markdown:
            with open(args.markdown, "a") as f:
                f.write(header + "\n\n" + table + "\n\n")
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
