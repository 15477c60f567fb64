#!/usr/bin/env python3
"""Builds of Ferry (or one build with and without a flag) against each other on one tree of tiny
files (bench/scale.py's), back to back and alternating, to tell a change's cost from this host's
drift between sittings.

    python3 bench/ab.py VARIANT VARIANT [VARIANT ...] [--count 100000] [--runs 3]

A VARIANT is a folder holding ferry, ferry-agent, rusage_wrap and wire_relay (build an old commit
in a `git worktree` to get them), optionally followed by flags for its backups after commas:
`build/bin,--no-seal` is this build without the seal (its restores then check no seal).

Each run: a first backup, a backup with no change and a first restore, durable and with
--no-sync (--tools), for each variant, each copy checked against the source. Prints each case's wall times, their median, and the median CPU and peak RSS of each side.
Needs root (it mounts an ext4 image).
"""
import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import scale  # noqa: E402


CASES = ("backup first", "backup no change", "restore first")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", metavar="VARIANT")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/var/tmp/ferry-bench-ab")
    ap.add_argument("--tools", default="ferry,ferry-nosync", help="durable (ferry), --no-sync, or both")
    args = ap.parse_args()
    if len(args.variants) < 2:
        sys.exit("give at least two variants to compare")
    variants = []  # (name, bin folder, extra flags)
    for i, spec in enumerate(args.variants):
        folder, *flags = spec.split(",")
        variants.append((chr(ord("A") + i), os.path.abspath(folder), flags))
    results = {}
    with bench.data_image(args.work, int(3 * args.count * 4096 / 2**30) + 4, bytes_per_inode=4096) as mnt:
        server = bench.Server(mnt)
        try:
            src = os.path.join(mnt, "src")
            scale.make_tree(src, args.count, args.count)
            for rep in range(args.runs):
                for name, folder, flags in variants if rep % 2 == 0 else variants[::-1]:
                    bench.BIN = folder
                    bench.WRAP = os.path.join(bench.BIN, "rusage_wrap")
                    backup, restore = os.path.join(mnt, "backup"), os.path.join(mnt, "restore")
                    for tool in args.tools.split(","):
                        for d in (backup, restore):
                            shutil.rmtree(d, ignore_errors=True)
                        for case in CASES:
                            direction = case.split()[0]
                            local = src if direction == "backup" else restore
                            r = bench.timed(tool, direction, local, backup, server, mnt, flags if direction == "backup" else ())
                            scale.check_same(src, backup if direction == "backup" else restore, f"{name} {tool} {case}")
                            results.setdefault((case, tool, name), []).append(r)
                print(f"run {rep + 1}/{args.runs} done", file=sys.stderr)
        finally:
            server.stop()
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"{args.count:,} files, {args.runs} runs")
    for name, folder, flags in variants:
        print(f"- {name}: {folder} {' '.join(flags)}")
    print("| case | variant | wall (each run) | median wall | median CPU | CPU client | CPU agent | RSS client | RSS agent |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (case, tool, name), rs in sorted(results.items()):
        walls = ", ".join(f"{r['wall']:.2f}" for r in rs)
        print(f"| {case}, {tool} | {name} | {walls} | {med(rs, 'wall'):.2f} s | {med(rs, 'cpu'):.2f} s | "
              f"{med(rs, 'cpu_client'):.2f} s | {med(rs, 'cpu_remote'):.2f} s | "
              f"{med(rs, 'rss_client_kib') / 1024:.1f} MiB | {med(rs, 'rss_remote_kib') / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
