#!/usr/bin/env python3
"""One large file, Ferry against rsync, with the disk taken out: where the transport and the
delta engine stand on their own.

    bench/one_file.py [--size-mib 512] [--runs 3] [--rtt-ms 0] [--bin build/bin]

Source and destinations are on tmpfs (/dev/shm), so neither tool waits for a disk and the
comparison is of CPU and pipelining: on these 2-core machines the client, sshd and the remote
program share the two cores. Cases: first copy and a delta (3 overwrites of 4 KiB and 2
insertions of 2 KiB at seeded offsets) in both directions. Ferry runs with --no-sync (on tmpfs
a flush costs nothing either way). Same sshd, relay and rsync options as bench.py; runs
alternate between the tools and the ratio is the median of per-run ratios.

The first copies are also timed as the raw link: OpenSSH with the same cipher, `cat` at both
ends (`ssh host 'cat > FILE' < FILE`, `ssh host cat FILE > FILE`), through the same relay.
Ferry's throughput as a share of it is the last column (issue 19 asks for at least 80 %).

--rtt-ms N makes the relay deliver every byte N/2 ms late each way: a long link's round trip,
where what one SSH channel can have in flight (its window) limits, not the CPU.

--streams N also runs Ferry with `--streams N` (what the client sends spread over N SSH
channels) in the same rotation, and prints its ratio to rsync beside the one-channel ratio.
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
import bench  # noqa: E402  (the sshd and relay, and the tools' command lines)


def make_files(work, size_mib):
    old, new = os.path.join(work, "old"), os.path.join(work, "new")
    os.makedirs(old)
    os.makedirs(new)
    rng = random.Random(20261130)
    pools = bench.Pools(rng)
    data = bytearray()
    for stripe in range(size_mib):
        data += pools.text_bytes(rng, bench.MiB) if stripe % 2 == 0 else rng.randbytes(bench.MiB)
    with open(os.path.join(old, "big.img"), "wb") as f:
        f.write(data)
    for _ in range(3):
        at = rng.randrange(len(data) - 4096)
        data[at:at + 4096] = rng.randbytes(4096)
    for _ in range(2):
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(2048)
    with open(os.path.join(new, "big.img"), "wb") as f:
        f.write(data)
    return old, new


def raw_copy(server, direction, near, far):
    """The file over OpenSSH alone: what the link carries with nothing but `cat` at each end."""
    ssh = bench.ssh_command(server).split() + ["root@127.0.0.1"]
    near_file, far_file = os.path.join(near, "big.img"), os.path.join(far, "big.img")
    if direction == "backup":
        with open(near_file, "rb") as f:
            subprocess.run(ssh + [f"cat > {far_file}"], stdin=f, check=True)
    else:
        with open(near_file, "wb") as f:
            subprocess.run(ssh + [f"cat {far_file}"], stdout=f, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=0, help="added round-trip time, half each way")
    ap.add_argument("--bin", help="where ferry, ferry-agent, wire_relay and rusage_wrap are (default: build/bin)")
    ap.add_argument("--streams", type=int, default=1, help="also run ferry --streams N")
    ap.add_argument("--cases", help="only these cases, comma-separated (e.g. 'backup first')")
    args = ap.parse_args()
    if args.bin:
        bench.BIN = os.path.abspath(args.bin)
        bench.WRAP = os.path.join(bench.BIN, "rusage_wrap")
    work = "/dev/shm/ferry-one-file"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    server = None
    try:
        old, new = make_files(work, args.size_mib)
        server = bench.Server(work, delay_ms=args.rtt_ms / 2)
        cases = [("backup first", "backup", new, None), ("restore first", "restore", new, None),
                 ("backup delta", "backup", new, old), ("restore delta", "restore", new, old)]
        if args.cases:
            cases = [c for c in cases if c[0] in args.cases.split(",")]
        walls = {}
        for rep in range(args.runs):
            order = ["ferry", "rsync", "ssh cat"] + (["ferry streams"] if args.streams > 1 else [])
            if rep % 2 == 1:
                order.reverse()
            for label, direction, source, basis in cases:
                for tool in order:
                    if tool == "ssh cat" and basis:
                        continue  # the raw link has no delta
                    far, near = os.path.join(work, "far"), os.path.join(work, "near")
                    for d in (far, near):
                        shutil.rmtree(d, ignore_errors=True)
                    # The side that receives starts empty or with the old version.
                    receiving = far if direction == "backup" else near
                    sending = near if direction == "backup" else far
                    shutil.copytree(source, sending, symlinks=True)
                    if basis:
                        shutil.copytree(basis, receiving, symlinks=True)
                    else:
                        os.makedirs(receiving)
                    start = time.monotonic()
                    if tool == "ssh cat":
                        raw_copy(server, direction, near, far)
                    else:
                        extra = ["--no-sync"] if tool.startswith("ferry") else []
                        if tool == "ferry streams":
                            extra += ["--streams", str(args.streams)]
                        argv = bench.command(tool.split()[0], direction, near, far, server, os.path.join(work, "usage"), extra)
                        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
                    walls.setdefault(label, {}).setdefault(tool, []).append(time.monotonic() - start)
                    with open(os.path.join(receiving, "big.img"), "rb") as a, open(os.path.join(source, "big.img"), "rb") as b:
                        if a.read() != b.read():
                            sys.exit(f"{tool} {label}: the copy differs from the source")
        rtt = f" --rtt-ms {args.rtt_ms:g}" if args.rtt_ms else ""
        streams = f" --streams {args.streams}" if args.streams > 1 else ""
        only = f" --cases '{args.cases}'" if args.cases else ""
        print(f"`bench/one_file.py --size-mib {args.size_mib} --runs {args.runs}{rtt}{streams}{only}` "
              f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, tmpfs)\n")
        many = f" | wall ferry --streams {args.streams} | ratio --streams {args.streams} | its share of ssh cat's" if streams else ""
        print(f"| case | wall ferry | wall rsync | ratio | wall ssh cat | ferry's share of ssh cat's throughput{many} |\n"
              "|---|---|---|---|---|---|" + ("---|---|---|" if streams else ""))
        for label, by_tool in walls.items():
            f, r, c = by_tool["ferry"], by_tool["rsync"], by_tool.get("ssh cat")
            ratio = statistics.median(a / b for a, b in zip(f, r))
            raw = (f"{statistics.median(c):.2f} s", f"**{statistics.median(b / a for a, b in zip(f, c)):.0%}**") if c else ("", "")
            row = (f"| {label} | {statistics.median(f):.2f} s | {statistics.median(r):.2f} s | **{ratio:.2f}** | "
                   f"{raw[0]} | {raw[1]} |")
            if streams:
                m = by_tool["ferry streams"]
                share = f"**{statistics.median(b / a for a, b in zip(m, c)):.0%}**" if c else ""
                row += (f" {statistics.median(m):.2f} s | **{statistics.median(a / b for a, b in zip(m, r)):.2f}** | "
                        f"{share} |")
            print(row)
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
