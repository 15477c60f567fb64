#!/usr/bin/env python3
"""Ferry against rsync, over the same loopback sshd, on the same data, in one run.

    bench/bench.py [--sets small,large,home] [--runs 3] [--scale 1.0] [--markdown FILE]

Needs root (it loop-mounts a journaled ext4 image for the data, see below) and a build in
build/ (deploy/test.sh makes one). For every data set it measures, for both tools:

  backup  first copy / no change / after a mutation
  restore first copy / no change / after a mutation
  backup first copy with compression (ferry -z, rsync -z --compress-choice=zstd)
  a first copy of the home set under --bwlimit (both tools, same limit)

and prints, per case, the median over --runs runs of wall time, CPU time (client + server
process), peak RSS (the larger of client and server) and bytes on the wire, with the ratio
Ferry/rsync. Runs alternate between the tools. Bytes on the wire are counted by a relay in front
of sshd (build/bin/wire_relay), the same way for both; CPU and RSS come from build/bin/rusage_wrap,
which both tools' clients and remote commands run under.

Ferry flushes what it wrote to disk before it reports success (writeback starts while data
arrives, and one syncfs ends the run); rsync by default does not, and the kernel writes its data
later. So Ferry runs twice per case, and the table has two ratios, each between runs that
promise the same: Ferry against rsync followed by `sync -f DEST` (the data is on disk), and
Ferry --no-sync against rsync alone (the data is in the page cache). A third column gives Ferry
against plain rsync. Each timed run starts from clean page-cache state (source and destination
read, nothing dirty), so neither tool pays for the other's writes.

Two traps of these machines are avoided on purpose: the data lives on a loop-mounted ext4 image
with a journal (the root file system here has none, and creating many files right after deleting
many gets slower every round), and every source and destination is read once right before each
timed run (cached data is evicted after about a minute untouched).

The image is attached with direct I/O (losetup --direct-io=on), so it behaves like a disk: what
the file system writes back goes to the machine's disk. A plain `mount -o loop` adds a second
page cache (the image file's): the loop worker copies every written byte once more, on the same
two cores both tools need, and holds it in the image file's cache until a journal commit or the
final flush forces it out, so writeback started early reaches the disk no earlier. Both tools
pay that; --buffered-loop brings it back (results up to 2026-11-30 run 5 used it).

rsync runs as `rsync -aHAX --numeric-ids` with OpenSSH using aes128-gcm, the cipher Ferry
prefers, so the comparison is of the engines and not of cipher choice. Neither tool deletes
(Ferry has no --delete yet), so the mutation's deleted files stay in both destinations.
"""
import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
WRAP = os.path.join(BIN, "rusage_wrap")
MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Data sets. Deterministic: the same seed gives the same bytes, names and times on any machine.

class Pools:
    """Text-like and random bytes to cut file contents from, made once per run."""

    def __init__(self, rng):
        words = [b"backup", b"restore", b"the", b"file", b"of", b"agent", b"delta", b"block",
                 b"signature", b"window", b"and", b"a", b"to", b"receiver", b"sender", b"hash",
                 b"int", b"return", b"struct", b"const", b"if", b"for", b"while", b"{", b"}", b";"]
        out = bytearray()
        while len(out) < 4 * MiB:
            out += rng.choice(words) + (b"\n" if rng.random() < 0.1 else b" ")
        self.text = bytes(out)
        self.noise = b"".join(rng.randbytes(MiB) for _ in range(16))

    def text_bytes(self, rng, n):
        start = rng.randrange(0, len(self.text) - n) if n < len(self.text) else 0
        return (self.text[start:start + n] * (n // len(self.text) + 1))[:n]

    def noise_bytes(self, rng, n):
        if n > len(self.noise) // 2:
            return rng.randbytes(n)
        start = rng.randrange(0, len(self.noise) - n)
        return self.noise[start:start + n]

    def mixed(self, rng, n):
        return self.text_bytes(rng, n) if rng.random() < 0.5 else self.noise_bytes(rng, n)


FIXED_TIME = 1_600_000_000


def write(path, data, rng):
    with open(path, "wb") as f:
        f.write(data)
    t = FIXED_TIME + rng.randrange(0, 10**8)
    os.utime(path, ns=(t * 10**9 + 123, t * 10**9 + rng.randrange(0, 10**9)))


def make_small(root, rng, pools, scale):
    """50,000 files of 100 B to 12 KB (about 300 MB) in 500 folders."""
    count = int(50_000 * scale)
    for i in range(count):
        d = os.path.join(root, f"d{i % 500:03d}")
        if i < 500:
            os.makedirs(d, exist_ok=True)
        write(os.path.join(d, f"f{i:06d}.dat"), pools.mixed(rng, rng.randrange(100, 12_000)), rng)


def make_large(root, rng, pools, scale):
    """4 files of 512 MiB, each half text-like and half random, in 1 MiB stripes."""
    size = int(512 * MiB * scale) // MiB * MiB
    os.makedirs(root, exist_ok=True)
    for i in range(4):
        path = os.path.join(root, f"disk{i}.img")
        with open(path, "wb") as f:
            for stripe in range(size // MiB):
                f.write(pools.text_bytes(rng, MiB) if stripe % 2 == 0 else rng.randbytes(MiB))
        os.utime(path, ns=(FIXED_TIME * 10**9, FIXED_TIME * 10**9 + i))


def make_home(root, rng, pools, scale):
    """A home folder: documents, code, photos, a few big files, hardlinks, symlinks, empty dirs."""
    kinds = [("Documents", ".txt", 2_000, 200_000, "text"), ("src", ".c", 500, 40_000, "text"),
             ("Pictures", ".jpg", 300_000, 4_000_000, "noise"), ("Music", ".mp3", 2_000_000, 8_000_000, "noise"),
             ("Downloads", ".bin", 10_000, 2_000_000, "mixed")]
    counts = {"Documents": 1500, "src": 3000, "Pictures": 120, "Music": 20, "Downloads": 200}
    made = []
    for folder, ext, lo, hi, kind in kinds:
        for i in range(int(counts[folder] * scale) or 1):
            d = os.path.join(root, folder, f"sub{i % 37:02d}", f"deeper{i % 5}")
            os.makedirs(d, exist_ok=True)
            n = rng.randrange(lo, hi)
            data = pools.text_bytes(rng, n) if kind == "text" else pools.noise_bytes(rng, n) if kind == "noise" \
                else pools.mixed(rng, n)
            p = os.path.join(d, f"{folder.lower()}-{i:05d}{ext}")
            write(p, data, rng)
            made.append(p)
    os.makedirs(os.path.join(root, "Library", "Caches", "empty"), exist_ok=True)
    os.makedirs(os.path.join(root, "Links"), exist_ok=True)
    for i in range(int(200 * scale) or 1):
        target = made[rng.randrange(len(made))]
        if i % 2 == 0:
            os.link(target, os.path.join(root, "Links", f"hard-{i:04d}"))
        else:
            os.symlink(os.path.relpath(target, os.path.join(root, "Links")), os.path.join(root, "Links", f"sym-{i:04d}"))


def regular_files(root):
    """The user's files under root: Ferry's own .ferry-state and .ferry-safetynet left out."""
    out = []
    for d, dirs, files in os.walk(root):
        if d == root:
            dirs[:] = [x for x in dirs if x not in (".ferry-state", ".ferry-safetynet")]
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return out


def mutate(root, rng, pools, large):
    """The changes between two backups: edits, insertions, files added and deleted."""
    files = regular_files(root)
    if large:
        for i, p in enumerate(files):
            with open(p, "rb") as f:
                data = bytearray(f.read())
            for _ in range(3):  # overwrites
                at = rng.randrange(0, len(data) - 4096)
                data[at:at + 4096] = rng.randbytes(4096)
            for _ in range(2):  # insertions shift everything after them
                at = rng.randrange(0, len(data))
                data[at:at] = pools.text_bytes(rng, 2048)
            with open(p, "wb") as f:
                f.write(data)
            os.utime(p, ns=(FIXED_TIME * 10**9 + 10**12, FIXED_TIME * 10**9 + 10**12 + i))
        return
    n = max(1, len(files) // 100)
    for p in rng.sample(files, n):  # edits in 1 % of files, in place
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.seek(rng.randrange(0, max(1, size - 64)))
            f.write(pools.text_bytes(rng, 64))
        os.utime(p, ns=(FIXED_TIME * 10**9 + 10**12, FIXED_TIME * 10**9 + 10**12 + 7))
    for p in rng.sample(sorted(set(files)), n):
        if os.path.exists(p):
            os.unlink(p)
    for i in range(n):
        d = os.path.dirname(files[rng.randrange(len(files))])
        if os.path.isdir(d):
            write(os.path.join(d, f"added-{i:05d}.dat"), pools.mixed(rng, rng.randrange(100, 20_000)), rng)


# ---------------------------------------------------------------------------------------------
# The server: one throwaway sshd on 127.0.0.1, a counting relay in front of it.

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, work, link_bytes_per_s=0, delay_ms=0):
        """link_bytes_per_s: the relay paces each direction to it (0: loopback speed); delay_ms:
        it delivers each byte that much later, each way (a round trip of twice that)."""
        self.dir = os.path.join(work, "sshd")
        os.makedirs(self.dir)
        d = self.dir
        for name, comment in (("host_key", "bench-host"), ("client_key", "bench-client")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", f"{d}/{name}"], check=True)
        shutil.copy(f"{d}/client_key.pub", f"{d}/authorized_keys")
        os.chmod(f"{d}/authorized_keys", 0o600)
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = free_port()
        with open(f"{d}/sshd_config", "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n"
                    f"AuthorizedKeysFile {d}/authorized_keys\nPidFile none\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                    "StrictModes no\nSubsystem sftp internal-sftp\n")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{d}/sshd_config"],
                                     stderr=open(f"{d}/sshd.log", "w"))
        self.relay_log = f"{d}/relay.log"
        rate = [str(link_bytes_per_s)] if link_bytes_per_s or delay_ms else []
        rate += [str(delay_ms)] if delay_ms else []
        self.relay = subprocess.Popen([os.path.join(BIN, "wire_relay"), str(self.port), self.relay_log] + rate,
                                      stdout=subprocess.PIPE, text=True)
        self.relay_port = int(self.relay.stdout.readline())
        for _ in range(100):
            if subprocess.run(["ssh-keyscan", "-p", str(self.port), "127.0.0.1"], capture_output=True).stdout:
                break
            time.sleep(0.05)
        host_key = open(f"{d}/host_key.pub").read().split()
        with open(f"{d}/known_hosts", "w") as f:  # OpenSSH's and Ferry's, for the relay's port
            f.write(f"[127.0.0.1]:{self.relay_port} {host_key[0]} {host_key[1]}\n")
        self.key = f"{d}/client_key"
        self.known_hosts = f"{d}/known_hosts"

    def connections(self):
        try:
            with open(self.relay_log) as f:
                return [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        for p in (self.relay, self.sshd):  # ours, by pid
            p.terminate()
            p.wait()


@contextlib.contextmanager
def data_image(work, gib, buffered_loop=False, bytes_per_inode=None, fs="ext4"):
    """A fresh image of `gib` GiB attached as a loop device (direct I/O unless buffered_loop, see
    the docstring) and mounted noatime; yields the mount point, and detaches and removes it all
    afterwards. fs: a journaled ext4 (the default), or btrfs or XFS (both clone files, which
    Ferry's deltas use). bytes_per_inode (mkfs.ext4 -i) for trees of many tiny files."""
    os.makedirs(work, exist_ok=True)
    image, mnt = os.path.join(work, f"data.{fs}"), os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(["truncate", "-s", f"{gib}G", image], check=True)
    if fs == "ext4":
        inodes = ["-i", str(bytes_per_inode)] if bytes_per_inode else []
        mkfs = ["mkfs.ext4", "-q", "-F", *inodes, "-E", "lazy_itable_init=0,lazy_journal_init=0"]
    elif fs == "btrfs":
        mkfs = ["mkfs.btrfs", "-q", "-f"]
    elif fs == "xfs":
        mkfs = ["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]
    else:
        sys.exit(f"unknown file system {fs}: ext4, btrfs or xfs")
    subprocess.run([*mkfs, image], check=True)
    loop = subprocess.run(["losetup", "--find", "--show", f"--direct-io={'off' if buffered_loop else 'on'}", image],
                          check=True, capture_output=True, text=True).stdout.strip()
    if subprocess.run(["mount", "-o", "noatime", loop, mnt]).returncode != 0:
        subprocess.run(["losetup", "--detach", loop])
        sys.exit(f"cannot mount {image} (attached as {loop}) on {mnt}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt])
        subprocess.run(["losetup", "--detach", loop])
        os.unlink(image)


# ---------------------------------------------------------------------------------------------
# One timed run of one tool.

def warm(*trees):
    """Reads every file once, so each run starts with the data in the page cache, then flushes
    what earlier runs wrote, so no run pays for another's writes (Ferry ends each run with a
    syncfs, which would otherwise wait for rsync's dirty data too)."""
    for t in trees:
        if os.path.isdir(t):
            subprocess.run(f"find {shq(t)} -type f -print0 | xargs -0 -r cat > /dev/null", shell=True, check=True)
    os.sync()


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def ssh_command(server):
    """OpenSSH to the bench's sshd through the relay, with the cipher Ferry prefers."""
    return (f"ssh -F /dev/null -p {server.relay_port} -i {server.key} -o UserKnownHostsFile={server.known_hosts} "
            "-o StrictHostKeyChecking=yes -o BatchMode=yes -c aes128-gcm@openssh.com")


def command(tool, direction, local, remote, server, usage_file, extra):
    login = f"root@127.0.0.1:{remote}"
    if tool == "ferry-nosync":
        tool, extra = "ferry", ["--no-sync"] + extra
    if tool == "ferry":
        agent = f"{WRAP} {usage_file} {os.path.join(BIN, 'ferry-agent')}"
        args = [os.path.join(BIN, "ferry"), direction, "-i", server.key, "--port", str(server.relay_port),
                "--known-hosts", server.known_hosts, "--agent", agent] + extra
        return args + ([local, login] if direction == "backup" else [login, local])
    args = ["rsync", "-aHAX", "--numeric-ids", "-e", ssh_command(server), "--rsync-path", f"{WRAP} {usage_file} rsync"] + extra
    return args + ([local + "/", login + "/"] if direction == "backup" else [login + "/", local + "/"])


def read_usage(path):
    cpu, rss = 0.0, 0
    with open(path) as f:
        for line in f:
            u, s, r = line.split()
            cpu += float(u) + float(s)
            rss = max(rss, int(r))
    return cpu, rss


def timed(tool, direction, local, remote, server, work, extra=()):
    usage_file, client_usage = os.path.join(work, "usage-remote"), os.path.join(work, "usage-client")
    for f in (usage_file, client_usage):
        if os.path.exists(f):
            os.unlink(f)
    warm(local, remote)
    seen = len(server.connections())
    args = [WRAP, client_usage] + command(tool, direction, local, remote, server, usage_file, list(extra))
    # Ferry's own FERRY_HOME beside the data: it remembers each destination's volume and seals,
    # which a bench that makes its disk image anew every sitting must not find from the last.
    env = dict(os.environ, FERRY_HOME=os.path.join(work, "ferry-home"))
    start = time.monotonic()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"{tool} {direction} failed ({p.returncode}): {' '.join(args)}\n{p.stderr.decode(errors='replace')}")
    for _ in range(200):  # the relay logs a connection once both ends have closed
        conns = server.connections()
        if len(conns) > seen and os.path.exists(usage_file):
            break
        time.sleep(0.02)
    conn = server.connections()[seen]
    remote_cpu, remote_rss = read_usage(usage_file)
    client_cpu, client_rss = read_usage(client_usage)
    # Ferry has flushed what it wrote when it exits; rsync has not. To compare equal durability
    # too, time a flush of the destination's file system right after rsync (Ferry's is ~0).
    start = time.monotonic()
    subprocess.run(["sync", "-f", remote if direction == "backup" else local], check=True)
    flush = time.monotonic() - start
    return {"wall": wall, "wall_durable": wall + (flush if tool == "rsync" else 0.0),
            "cpu": client_cpu + remote_cpu, "cpu_client": client_cpu, "cpu_remote": remote_cpu, "rss_kib": max(client_rss, remote_rss),
            "rss_client_kib": client_rss, "rss_remote_kib": remote_rss,
            "wire": int(conn[0]) + int(conn[1])}


# ---------------------------------------------------------------------------------------------
# Cases and the report.

def same_tree(a, b):
    """Every regular file of a is in b with its size and mtime (a cheap check of each run)."""
    for p in regular_files(a):
        q = os.path.join(b, os.path.relpath(p, a))
        sa, sb = os.lstat(p), os.lstat(q) if os.path.lexists(q) else None
        if sb is None or sa.st_size != sb.st_size or sa.st_mtime_ns != sb.st_mtime_ns:
            return f"{q} differs from {p}"
    return ""


def run_set(name, s0, s1, server, mnt, runs, results, compress_level):
    for rep in range(runs):
        order = ("ferry", "ferry-nosync", "rsync") if rep % 2 == 0 else ("rsync", "ferry-nosync", "ferry")
        dirs = {t: (os.path.join(mnt, f"{name}-{t}-backup"), os.path.join(mnt, f"{name}-{t}-restore")) for t in order}
        for t in order:
            for d in dirs[t]:
                shutil.rmtree(d, ignore_errors=True)
        steps = [("backup first", "backup", s0), ("backup no change", "backup", s0),
                 ("restore first", "restore", None), ("restore no change", "restore", None),
                 ("backup mutated", "backup", s1), ("restore mutated", "restore", None)]
        for label, direction, src in steps:
            for t in order:
                backup, restore = dirs[t]
                local = src if direction == "backup" else restore
                r = timed(t, direction, local, backup, server, mnt)
                results.setdefault((name, label), {}).setdefault(t, []).append(r)
                check = same_tree(src, backup) if direction == "backup" else same_tree(backup, restore)
                if check:
                    sys.exit(f"{t} {label} on {name}: {check}")
            print(f"  {name} run {rep + 1}/{runs}: {label} done", file=sys.stderr)
        # Compression, on a first copy.
        for t in ("ferry", "rsync") if rep % 2 == 0 else ("rsync", "ferry"):
            d = os.path.join(mnt, f"{name}-{t}-z")
            shutil.rmtree(d, ignore_errors=True)
            extra = ["-z", "--compress-level", str(compress_level)] if t == "ferry" else \
                ["-z", "--compress-choice=zstd", f"--compress-level={compress_level}"]
            r = timed(t, "backup", s0, d, server, mnt, extra)
            results.setdefault((name, "backup first -z"), {}).setdefault(t, []).append(r)
            shutil.rmtree(d, ignore_errors=True)
        for t in order:
            for d in dirs[t]:
                shutil.rmtree(d, ignore_errors=True)


def run_bwlimit(s0, server, mnt, runs, results, limit):
    for rep in range(runs):
        order = ("ferry", "rsync") if rep % 2 == 0 else ("rsync", "ferry")
        for t in order:
            d = os.path.join(mnt, f"bw-{t}")
            shutil.rmtree(d, ignore_errors=True)
            r = timed(t, "backup", s0, d, server, mnt, ["--bwlimit", limit])
            r["rate"] = r["wire"] / r["wall"]
            results.setdefault(("home", f"backup first --bwlimit {limit}"), {}).setdefault(t, []).append(r)
            shutil.rmtree(d, ignore_errors=True)


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024


def report(results, runs):
    """Two ratios of wall time, each between runs that promise the same: Ferry (data on disk
    when it exits) against rsync followed by `sync -f`, and Ferry --no-sync (data left to the
    kernel) against rsync alone."""
    lines = ["| set | case | wall ferry | wall rsync + sync | **ratio** | wall ferry --no-sync | wall rsync | "
             "**ratio --no-sync** | ferry / rsync | CPU ratio | RSS ferry | RSS rsync | wire ferry | wire rsync | wire ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (name, label), by_tool in results.items():
        f, r, n = by_tool["ferry"], by_tool["rsync"], by_tool.get("ferry-nosync")
        med = lambda rs, k: statistics.median(x[k] for x in rs)
        # Ratios are medians of per-run ratios: each pair ran back to back, under the same load.
        ratio = lambda a_runs, k, b_runs, kb: statistics.median(a[k] / b[kb] if b[kb] else float("nan")
                                                                for a, b in zip(a_runs, b_runs))
        nosync = (f"{med(n, 'wall'):.2f} s", f"**{ratio(n, 'wall', r, 'wall'):.2f}**") if n else ("", "")
        lines.append(f"| {name} | {label} | {med(f, 'wall'):.2f} s | {med(r, 'wall_durable'):.2f} s | "
                     f"**{ratio(f, 'wall', r, 'wall_durable'):.2f}** | {nosync[0]} | {med(r, 'wall'):.2f} s | {nosync[1]} | "
                     f"{ratio(f, 'wall', r, 'wall'):.2f} | {ratio(f, 'cpu', r, 'cpu'):.2f} | "
                     f"{med(f, 'rss_kib') / 1024:.0f} MiB | {med(r, 'rss_kib') / 1024:.0f} MiB | "
                     f"{human(med(f, 'wire'))} | {human(med(r, 'wire'))} | **{ratio(f, 'wire', r, 'wire'):.3f}** |")
        if "rate" in f[0]:
            lines.append(f"| {name} | (rate on the wire) | {human(med(f, 'rate'))}/s | | | | {human(med(r, 'rate'))}/s |"
                         " | | | | | | | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="small,large,home")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="data set size factor (1.0 = the sizes above)")
    ap.add_argument("--work", default="/var/tmp/ferry-bench", help="where the ext4 image goes")
    ap.add_argument("--image-gib", type=int, default=24)
    ap.add_argument("--compress-level", type=int, default=3)
    ap.add_argument("--bwlimit", default="20M")
    ap.add_argument("--markdown", help="append the result table to this file")
    ap.add_argument("--buffered-loop", action="store_true",
                    help="attach the image through the page cache, as bench runs before 2026-11-30 did")
    ap.add_argument("--raw", help="write every run's figures to this file (JSON), for a closer look than medians")
    ap.add_argument("--bin", help="where ferry, ferry-agent, wire_relay and rusage_wrap are (default: build/bin)")
    args = ap.parse_args()
    if args.bin:
        global BIN, WRAP
        BIN, WRAP = os.path.abspath(args.bin), os.path.join(os.path.abspath(args.bin), "rusage_wrap")
    if os.geteuid() != 0:
        sys.exit("bench.py needs root: it mounts an ext4 image, and both tools keep ownership")
    for b in ("ferry", "ferry-agent", "wire_relay", "rusage_wrap"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            sys.exit(f"{BIN}/{b} is missing: build first (deploy/test.sh, or cmake --build build)")

    with data_image(args.work, args.image_gib, args.buffered_loop) as mnt:
        run_bench(args, mnt)


def run_bench(args, mnt):
    server = None
    try:
        server = Server(mnt)
        rng = random.Random(20261123)
        pools = Pools(rng)
        makers = {"small": make_small, "large": make_large, "home": make_home}
        sets = [s for s in args.sets.split(",") if s]
        results = {}
        t0 = time.monotonic()
        for name in sets:
            s0, s1 = os.path.join(mnt, f"{name}-source"), os.path.join(mnt, f"{name}-mutated")
            print(f"generating {name}", file=sys.stderr)
            os.makedirs(s0)
            makers[name](s0, random.Random(f"{name}-data"), pools, args.scale)
            subprocess.run(["cp", "-a", s0, s1], check=True)
            mutate(s1, random.Random(f"{name}-mutation"), pools, large=(name == "large"))
            run_set(name, s0, s1, server, mnt, args.runs, results, args.compress_level)
            if name == "home":
                run_bwlimit(s0, server, mnt, args.runs, results, args.bwlimit)
            shutil.rmtree(s1)
            shutil.rmtree(s0)
        table = report(results, args.runs)
        header = (f"`bench/bench.py --sets {args.sets} --runs {args.runs} --scale {args.scale}"
                  f"{' --buffered-loop' if args.buffered_loop else ''}` "
                  f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {time.monotonic() - t0:.0f} s, "
                  f"{'buffered' if args.buffered_loop else 'direct-I/O'} loop device; "
                  f"ferry {subprocess.run([os.path.join(BIN, 'ferry'), '--version'], capture_output=True, text=True).stdout.strip()}, "
                  f"{subprocess.run(['rsync', '--version'], capture_output=True, text=True).stdout.splitlines()[0]})")
        print(header)
        print()
        print(table)
        if args.markdown:
            with open(args.markdown, "a") as f:
                f.write(header + "\n\n" + table + "\n\n")
        if args.raw:
            with open(args.raw, "w") as f:
                json.dump({"command": header, "runs": [{"set": name, "case": label, "tool": tool, "run": i, **r}
                                                        for (name, label), by_tool in results.items()
                                                        for tool, rs in by_tool.items() for i, r in enumerate(rs)]},
                          f, indent=1)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
