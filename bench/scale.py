#!/usr/bin/env python3
"""Ferry against rsync at scale (issue 19): trees of many tiny files, where memory per entry and
the per-file cost show, and one large file changed in a few places, where the delta engine and
the disk show.

    bench/scale.py [--counts 10000,100000] [--runs 3] [--delta-gib 4] [--parts tree,delta,sparse]
                   [--fs ext4|btrfs|xfs] [--files-per-folder 1000] [--hardlinked [far|near]] [--rtt-ms 0] [--markdown FILE]
                   [--bin DIR]

Needs root (a loop-mounted ext4 image, as bench/bench.py, with an inode per 4 KiB; or btrfs or
XFS with --fs, file systems that clone, where Ferry rebuilds a delta on a clone) and a build in
build/. The same sshd, relay, wrappers and command lines as bench.py; Ferry runs durable (its
default) and with --no-sync, rsync alone and followed by `sync -f DEST`.

tree   For each count N: N files of 1 B to 1 KB (random bytes) in folders of 1,000 (two levels;
       --files-per-folder changes the 1,000, and 1 makes as many folders as files),
       made by a plain loop of open/write/utime. --hardlinked names every file a second time under
       links/ (as a second snapshot of the same files would): N inodes, 2N names, all hard links;
       --hardlinked near puts each second name beside the first (l... beside f...).
       Cases: backup first, backup no change, restore first, restore no change. Each tool does
       the four in a row into its own destinations, which are removed before the next tool
       starts (at a million entries the image holds the source and two copies, not seven); the
       tools take turns in opposite order each run.
       Reported per side: peak RSS of the client and of the remote command, and bytes per entry
       between the smallest and the largest count ((RSS at N2 - RSS at N1) / (N2 - N1)), which is
       what the listing and the bookkeeping cost per file once start-up is taken out.
delta  One file of --delta-gib GiB (random bytes) with 10 blocks of 4 KiB overwritten, and a
       new mtime; the destination holds the old version before every run (copied afresh). Case:
       backup delta. Wire bytes show that both tools sent only the changes.
sparse The same for a sparse file (a VM's disk image): --delta-gib GiB of which one eighth is
       data (32 MiB of random bytes every 256 MiB), the rest holes; rsync runs with --sparse, so
       that it too leaves holes. Each tool's copy's space on disk is printed beside the source's.

--rtt-ms N delays every byte N/2 ms each way in the relay (as bench/one_file.py): a long link,
where whatever waits for an answer shows.

Every figure is the median over --runs runs; ratios are medians of per-run ratios.
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
import bench  # noqa: E402  (the sshd, the relay, the timed run and the image are bench.py's)

TOOLS = ("ferry", "ferry-nosync", "rsync")
TREE_CASES = ("backup first", "backup no change", "backup mirror", "restore first", "restore no change")
# "backup mirror": a no-change backup with --delete, which needs each folder's listed names.
EXTRA = {"backup mirror": ("--delete",)}
FILES_PER_FOLDER = 1000
HARDLINKED = ""  # --hardlinked: every file has a second name, under links/ ("far") or beside it ("near")


def make_tree(root, count, seed):
    """count files of 1 B..1 KB in folders of FILES_PER_FOLDER, 100 folders to a parent."""
    rng = random.Random(seed)
    pool = rng.randbytes(1 << 20)
    t0 = bench.FIXED_TIME * 10**9
    for i in range(count):
        if i % FILES_PER_FOLDER == 0:
            folder = os.path.join(root, f"p{i // (FILES_PER_FOLDER * 100):03d}", f"d{(i // FILES_PER_FOLDER) % 100:02d}")
            os.makedirs(folder)
        path = os.path.join(folder, f"f{i:07d}")
        size = rng.randrange(1, 1024)
        at = rng.randrange(0, len(pool) - size)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, pool[at:at + size])
        os.close(fd)
        os.utime(path, ns=(t0, t0 + i))
    if HARDLINKED == "near":
        for dirpath, _, names in list(os.walk(root)):
            for name in names:
                os.link(os.path.join(dirpath, name), os.path.join(dirpath, "l" + name[1:]))
    if HARDLINKED == "far":  # the names of an older snapshot: each inode named again, far from its first name
        for dirpath, _, names in list(os.walk(root)):
            if names:
                mirror = os.path.join(root, "links", os.path.relpath(dirpath, root))
                os.makedirs(mirror)
                for name in names:
                    os.link(os.path.join(dirpath, name), os.path.join(mirror, name))


def make_delta_pair(root, gib):
    """old/big.img and new/big.img: the same random bytes but for 10 blocks of 4 KiB."""
    old, new = os.path.join(root, "old"), os.path.join(root, "new")
    os.makedirs(old)
    os.makedirs(new)
    subprocess.run(f"head -c {gib}G /dev/urandom > {bench.shq(old)}/big.img", shell=True, check=True)
    subprocess.run(["cp", "-a", os.path.join(old, "big.img"), new], check=True)
    rng = random.Random(19)
    size = gib << 30
    with open(os.path.join(new, "big.img"), "r+b") as f:
        for _ in range(10):
            f.seek(rng.randrange(0, size - 4096))
            f.write(rng.randbytes(4096))
    t = bench.FIXED_TIME * 10**9
    os.utime(os.path.join(old, "big.img"), ns=(t, t))
    os.utime(os.path.join(new, "big.img"), ns=(t, t + 10**12))
    return old, new


def make_sparse_pair(root, gib):
    """old/disk.img and new/disk.img: sparse, one eighth data; 10 blocks of 4 KiB changed in it."""
    old, new = os.path.join(root, "old"), os.path.join(root, "new")
    os.makedirs(old)
    os.makedirs(new)
    size, every, data = gib << 30, 256 << 20, 32 << 20
    path = os.path.join(old, "disk.img")
    with open(path, "wb") as f:
        for at in range(0, size, every):
            f.seek(at)
            f.write(os.urandom(data))
        f.truncate(size)
    subprocess.run(["cp", "-a", "--sparse=always", path, new], check=True)
    rng = random.Random(23)
    with open(os.path.join(new, "disk.img"), "r+b") as f:
        for _ in range(10):
            f.seek(rng.randrange(0, size // every) * every + rng.randrange(0, data - 4096))
            f.write(rng.randbytes(4096))
    t = bench.FIXED_TIME * 10**9
    os.utime(path, ns=(t, t))
    os.utime(os.path.join(new, "disk.img"), ns=(t, t + 10**12))
    return old, new


def allocated(path):
    return os.stat(path).st_blocks * 512


def check_same(src, dst, what):
    problem = bench.same_tree(src, dst)
    if problem:
        sys.exit(f"{what}: {problem}")


def run_tree(count, mnt, server, runs, results):
    src = os.path.join(mnt, f"tree-{count}")
    print(f"generating {count:,} files", file=sys.stderr)
    t = time.monotonic()
    make_tree(src, count, count)
    print(f"  made in {time.monotonic() - t:.0f} s", file=sys.stderr)
    for rep in range(runs):
        for tool in TOOLS if rep % 2 == 0 else TOOLS[::-1]:
            backup, restore = os.path.join(mnt, f"tree-{tool}-backup"), os.path.join(mnt, f"tree-{tool}-restore")
            for label in TREE_CASES:
                direction = label.split()[0]
                local = src if direction == "backup" else restore
                r = bench.timed(tool, direction, local, backup, server, mnt, EXTRA.get(label, ()))
                results.setdefault((f"{count:,} files", label), {}).setdefault(tool, []).append(r)
                check_same(src, backup if direction == "backup" else restore, f"{tool} {label} at {count}")
            for d in (backup, restore):
                shutil.rmtree(d)
        print(f"  {count:,} files: run {rep + 1}/{runs} done", file=sys.stderr)
    shutil.rmtree(src)


def run_delta(gib, mnt, server, runs, results):
    print(f"generating the {gib} GiB file", file=sys.stderr)
    old, new = make_delta_pair(os.path.join(mnt, "delta"), gib)
    dest = os.path.join(mnt, "delta-dest")
    for rep in range(runs):
        for tool in TOOLS if rep % 2 == 0 else TOOLS[::-1]:
            shutil.rmtree(dest, ignore_errors=True)
            subprocess.run(["cp", "-a", old, dest], check=True)
            r = bench.timed(tool, "backup", new, dest, server, mnt)
            results.setdefault((f"one {gib} GiB file", "backup delta"), {}).setdefault(tool, []).append(r)
            check_same(new, dest, f"{tool} delta")
        print(f"  delta: run {rep + 1}/{runs} done", file=sys.stderr)
    shutil.rmtree(dest)
    shutil.rmtree(os.path.join(mnt, "delta"))


def run_sparse(gib, mnt, server, runs, results):
    print(f"generating the sparse {gib} GiB file", file=sys.stderr)
    old, new = make_sparse_pair(os.path.join(mnt, "sparse"), gib)
    dest = os.path.join(mnt, "sparse-dest")
    spaces = {"source": [allocated(os.path.join(new, "disk.img"))]}
    for rep in range(runs):
        for tool in TOOLS if rep % 2 == 0 else TOOLS[::-1]:
            shutil.rmtree(dest, ignore_errors=True)
            subprocess.run(["cp", "-a", "--sparse=always", old, dest], check=True)
            r = bench.timed(tool, "backup", new, dest, server, mnt, ("--sparse",) if tool == "rsync" else ())
            results.setdefault((f"one sparse {gib} GiB file", "backup delta"), {}).setdefault(tool, []).append(r)
            check_same(new, dest, f"{tool} sparse delta")
            spaces.setdefault(tool, []).append(allocated(os.path.join(dest, "disk.img")))
        print(f"  sparse: run {rep + 1}/{runs} done", file=sys.stderr)
    shutil.rmtree(dest)
    shutil.rmtree(os.path.join(mnt, "sparse"))
    return "Space on disk of the sparse file (median MiB): " + ", ".join(
        f"{k} {statistics.median(v) / 2**20:.0f}" for k, v in spaces.items())


def memory_table(results, counts):
    """Peak RSS of each side, and what each entry adds between the smallest and largest count."""
    med = lambda rs, k: statistics.median(x[k] for x in rs)
    lines = ["| case | side | tool | " + " | ".join(f"RSS at {c:,}" for c in counts) + " | bytes per entry |",
             "|---|---|---|" + "---|" * len(counts) + "---|"]
    for label in TREE_CASES:
        direction = label.split()[0]
        for side, key in (("client", "rss_client_kib"), ("agent / remote rsync", "rss_remote_kib")):
            role = ("sender" if (direction == "backup") == (side == "client") else "receiver")
            for tool in ("ferry", "rsync"):
                rss = [med(results[(f"{c:,} files", label)][tool], key) for c in counts]
                per_entry = (rss[-1] - rss[0]) * 1024 / (counts[-1] - counts[0]) if len(counts) > 1 else float("nan")
                lines.append(f"| {label} | {side} ({role}) | {tool} | " +
                             " | ".join(f"{k / 1024:.1f} MiB" for k in rss) + f" | {per_entry:.0f} |")
    return "\n".join(lines)


def main():
    global FILES_PER_FOLDER, HARDLINKED
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="10000,100000", help="tree sizes, comma separated (1000000 works: "
                    "about 4 GiB and 1M inodes per copy)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delta-gib", type=int, default=4)
    ap.add_argument("--parts", default="tree,delta")
    ap.add_argument("--fs", default="ext4", choices=("ext4", "btrfs", "xfs"),
                    help="the data image's file system (btrfs and XFS clone: a delta there rewrites nothing)")
    ap.add_argument("--files-per-folder", type=int, default=FILES_PER_FOLDER,
                    help="files in each folder of the tree (1: as many folders as files)")
    ap.add_argument("--hardlinked", nargs="?", const="far", default="", choices=("far", "near"),
                    help="give every file of the tree a second name (a hard link): under links/ "
                         "(far, the default) or beside it (near)")
    ap.add_argument("--rtt-ms", type=float, default=0,
                    help="added round-trip time, half each way (the relay delays every byte)")
    ap.add_argument("--work", default="/var/tmp/ferry-bench-scale", help="where the image goes")
    ap.add_argument("--markdown", help="append the tables to this file")
    ap.add_argument("--bin", help="where ferry, ferry-agent, wire_relay and rusage_wrap are (default: build/bin)")
    args = ap.parse_args()
    FILES_PER_FOLDER = args.files_per_folder
    HARDLINKED = args.hardlinked
    if args.bin:
        bench.BIN = os.path.abspath(args.bin)
        bench.WRAP = os.path.join(bench.BIN, "rusage_wrap")
    if os.geteuid() != 0:
        sys.exit("scale.py needs root: it mounts an ext4 image")
    counts = [int(c) for c in args.counts.split(",") if c]
    parts = args.parts.split(",")
    # Source and two copies of the largest tree (4 KiB a file on disk), the delta's four copies.
    tree_gib = 3 * max(counts) * 4096 * (1 + 1 / FILES_PER_FOLDER) / 2**30 if "tree" in parts else 0
    delta_gib = 4 * args.delta_gib if "delta" in parts else 0
    delta_gib += args.delta_gib if "sparse" in parts else 0  # one eighth of four copies
    image_gib = int(tree_gib + delta_gib) + 4
    with bench.data_image(args.work, image_gib, bytes_per_inode=4096, fs=args.fs) as mnt:
        server = bench.Server(mnt, delay_ms=args.rtt_ms / 2)
        results = {}
        space_line = None
        t0 = time.monotonic()
        try:
            if "tree" in parts:
                for count in counts:
                    run_tree(count, mnt, server, args.runs, results)
            if "delta" in parts:
                run_delta(args.delta_gib, mnt, server, args.runs, results)
            if "sparse" in parts:
                space_line = run_sparse(args.delta_gib, mnt, server, args.runs, results)
        finally:
            server.stop()
    header = (f"`bench/scale.py --counts {args.counts} --runs {args.runs} --delta-gib {args.delta_gib} "
              f"--parts {args.parts}{'' if args.fs == 'ext4' else ' --fs ' + args.fs}"
              f"{f' --rtt-ms {args.rtt_ms:g}' if args.rtt_ms else ''}"
              f"{f' --files-per-folder {FILES_PER_FOLDER}' if FILES_PER_FOLDER != 1000 else ''}{' --hardlinked' if HARDLINKED == 'far' else ''}{' --hardlinked near' if HARDLINKED == 'near' else ''}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
              f"{time.monotonic() - t0:.0f} s; ferry "
              f"{subprocess.run([os.path.join(bench.BIN, 'ferry'), '--version'], capture_output=True, text=True).stdout.strip()}, "
              f"{subprocess.run(['rsync', '--version'], capture_output=True, text=True).stdout.splitlines()[0]})")
    out = [header, "", bench.report(results, args.runs)]
    if "tree" in parts:
        out += ["", memory_table(results, counts)]
    if space_line:
        out += ["", space_line]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n\n")


if __name__ == "__main__":
    main()
