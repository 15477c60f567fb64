#!/usr/bin/env python3
"""Two builds of Ferry against each other on one tree of tiny files (bench/scale.py's), back to
back and alternating, to tell a change's cost from this host's drift between sittings.

    python3 bench/ab.py OLD_BIN NEW_BIN [--count 100000] [--runs 3]

Each run: a first backup and a first restore, durable and with --no-sync, for each build. Prints
each case's wall times, their median, the median CPU and the median peak RSS of each side.
OLD_BIN and NEW_BIN hold ferry, ferry-agent, rusage_wrap and wire_relay (build an old commit in a
`git worktree` to get them). Needs root (it mounts an ext4 image).
"""
import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import scale  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old_bin")
    ap.add_argument("new_bin")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/var/tmp/ferry-bench-ab")
    args = ap.parse_args()
    builds = {"old": os.path.abspath(args.old_bin), "new": os.path.abspath(args.new_bin)}
    results = {}
    with bench.data_image(args.work, int(3 * args.count * 4096 / 2**30) + 4, bytes_per_inode=4096) as mnt:
        server = bench.Server(mnt)
        try:
            src = os.path.join(mnt, "src")
            scale.make_tree(src, args.count, args.count)
            for rep in range(args.runs):
                for name in ("old", "new") if rep % 2 == 0 else ("new", "old"):
                    bench.BIN = builds[name]
                    bench.WRAP = os.path.join(bench.BIN, "rusage_wrap")
                    backup, restore = os.path.join(mnt, "backup"), os.path.join(mnt, "restore")
                    for tool in ("ferry", "ferry-nosync"):
                        for d in (backup, restore):
                            shutil.rmtree(d, ignore_errors=True)
                        for direction, local in (("backup", src), ("restore", restore)):
                            r = bench.timed(tool, direction, local, backup, server, mnt)
                            results.setdefault((direction, tool, name), []).append(r)
                print(f"run {rep + 1}/{args.runs} done", file=sys.stderr)
        finally:
            server.stop()
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"{args.count:,} files, {args.runs} runs; old = {builds['old']}, new = {builds['new']}")
    print("| case | build | wall (each run) | median wall | median CPU | RSS client | RSS agent |")
    print("|---|---|---|---|---|---|---|")
    for (direction, tool, name), rs in sorted(results.items()):
        walls = ", ".join(f"{r['wall']:.2f}" for r in rs)
        print(f"| {direction} first, {tool} | {name} | {walls} | {med(rs, 'wall'):.2f} s | {med(rs, 'cpu'):.2f} s | "
              f"{med(rs, 'rss_client_kib') / 1024:.1f} MiB | {med(rs, 'rss_remote_kib') / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
