#!/usr/bin/env python3
"""What keeping owners without root costs: the same tree backed up into a local folder through
a root agent (owners applied to the files) and through an agent running as nobody (owners,
setuid bits and devices stored in user.ferry.meta), first copy and no-change run.

    bench/stored_metadata.py [--files 20000] [--runs 5] [--bin build/bin] [--work /var/tmp/ferry-bench-meta]

Run as root, after deploy/test.sh has built everything. Prints medians and the ratio
nobody/root of wall time and of the agent's peak RSS (both sides run on this machine, through a
local agent: no SSH, so the figure is the stored-metadata path alone).
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def make_tree(root, files, rng):
    os.makedirs(root)
    for i in range(files):
        d = os.path.join(root, f"d{i % 200:03d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"f{i:06d}")
        with open(p, "wb") as f:
            f.write(rng.randbytes(rng.randint(0, 8192)))
        os.chown(p, 1000 + i % 5, 1000 + i % 3)
        os.chmod(p, 0o4755 if i % 100 == 0 else 0o644)
    for i in range(50):
        os.mkfifo(os.path.join(root, f"fifo{i:02d}"), 0o640)
        os.mknod(os.path.join(root, f"dev{i:02d}"), 0o660 | 0o020000, os.makedev(1, 3))


def read_usage(path):
    rss = 0
    with open(path) as f:
        for line in f:
            rss = max(rss, int(line.split()[2]))
    return rss


def run(binary, src, dest, as_nobody, work):
    usage = os.path.join(work, "agent-usage")
    if os.path.exists(usage):
        os.unlink(usage)
    agent = [os.path.join(binary, "rusage_wrap"), usage] + (AS_NOBODY if as_nobody else []) + \
        [os.path.join(binary, "ferry-agent")]
    cmd = [os.path.join(binary, "ferry"), "backup", "--agent", " ".join(agent), src, dest]
    subprocess.run(["sync"], check=True)
    start = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode(errors='replace')}")
    return wall, read_usage(usage)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--work", default="/var/tmp/ferry-bench-meta")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the tree has other users' files and devices, and the agent drops to nobody")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    os.chmod(args.work, 0o755)
    src = os.path.join(args.work, "src")
    make_tree(src, args.files, random.Random(7))
    # The two agents take turns, run by run, so that the machine's drift (other load, the disk
    # still writing what an earlier run removed) falls on both alike.
    samples = {False: ([], [], []), True: ([], [], [])}
    for _ in range(args.runs):
        for as_nobody in (False, True):
            first, again, rss = samples[as_nobody]
            dest = os.path.join(args.work, "dest")
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            if as_nobody:
                os.chown(dest, 65534, 65534)
            wall, kib = run(args.bin, src, dest, as_nobody, args.work)
            first.append(wall)
            rss.append(kib)
            wall, _ = run(args.bin, src, dest, as_nobody, args.work)
            again.append(wall)
    figures = {k: tuple(statistics.median(v) for v in lists) for k, lists in samples.items()}
    root, nobody = figures[False], figures[True]
    print(f"{args.files} files (varied owners, 1% setuid) + 50 fifos + 50 devices, median of {args.runs} runs")
    print(f"{'agent':<8} {'first copy s':>13} {'no change s':>12} {'agent RSS MiB':>14}")
    for name, (a, b, c) in (("root", root), ("nobody", nobody)):
        print(f"{name:<8} {a:>13.2f} {b:>12.2f} {c / 1024:>14.1f}")
    print(f"{'ratio':<8} {nobody[0] / root[0]:>13.2f} {nobody[1] / root[1]:>12.2f} {nobody[2] / root[2]:>14.2f}")


if __name__ == "__main__":
    main()
