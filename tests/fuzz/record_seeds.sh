#!/usr/bin/env bash
# Records real sessions as seed inputs: the built ferry backs up a small sample tree twice
# (whole files, then a changed file as a compressed delta) to a local ferry-agent whose stdin
# and stdout are copied aside, and the frames are cut into seeds for frame_parser, messages,
# entry_sequence and receiver (tests/fuzz/corpus/<target>/rec-*). Run by hand after a change
# to the wire format, from a normal build:  tests/fuzz/record_seeds.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-build}/bin")
corpus=$PWD/tests/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/src/sub" "$work/dst"
printf 'hello\n' >"$work/src/a.txt"
head -c 6000 /dev/zero | tr '\0' q >"$work/src/sub/big"
ln -s a.txt "$work/src/link"
mkfifo "$work/src/sub/fifo"
cat >"$work/agent.sh" <<AGENT
#!/bin/sh
tee "$work/\$RUN.in" | "$bin/ferry-agent" "\$@" | tee "$work/\$RUN.out"
AGENT
chmod +x "$work/agent.sh"
RUN=whole "$bin/ferry" backup --agent "$work/agent.sh" "$work/src" "$work/dst" >/dev/null
printf X | dd of="$work/src/sub/big" bs=1 seek=3000 conv=notrunc status=none
touch -d 2020-01-01 "$work/src/sub/big"
RUN=delta "$bin/ferry" backup --compress --agent "$work/agent.sh" "$work/src" "$work/dst" >/dev/null

python3 - "$work" "$corpus" <<'PY'
import os, sys
work, corpus = sys.argv[1:]
MAGIC = b"\x89FERRY\r\n\x1a"

def frames(stream):
    i = stream.index(MAGIC) + len(MAGIC)
    while i + 5 <= len(stream):
        n = int.from_bytes(stream[i + 1:i + 5], "little")
        yield stream[i], stream[i:i + 5 + n]
        i += 5 + n

def seed(target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    with open(os.path.join(corpus, target, "rec-" + name), "wb") as f:
        f.write(data)

# messages: the first byte picks the decoder (tests/fuzz/messages.cc).
decoder = {1: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 17: 6, 8: 7, 9: 8, 10: 9, 11: 10, 18: 11, 14: 12}
for run in ("whole", "delta"):
    for side in ("in", "out"):
        stream = open(os.path.join(work, run + "." + side), "rb").read()
        seed("frame_parser", f"{run}-{side}", b"\x03" + stream)  # expect the magic, 98-byte pieces
        seen = set()
        for t, f in frames(stream):
            if t in decoder and t not in seen:
                seen.add(t)
                seed("messages", f"{run}-{side}-{t}", bytes([decoder[t]]) + f[5:])
            if t == 4:
                seed("entry_sequence", f"{run}-{side}", f[5:])
        if side == "in":
            # What the receiver reads: every frame after Hello and Open.
            seed("receiver", run, b"".join(f for t, f in frames(stream) if t not in (1, 2)))
PY
echo "recorded seeds into $corpus"
