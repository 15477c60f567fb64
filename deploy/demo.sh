#!/usr/bin/env bash
# End-to-end demo: builds Ferry, starts a throwaway OpenSSH server on 127.0.0.1 (its own host
# key, client key and authorized_keys in a temp dir), backs a sample folder up over SSH,
# restores it to a new folder, shows that both copies match the original at the metadata
# level, and stops the server by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

deploy/bootstrap.sh
deploy/configure.sh build
cmake --build build
ferry="$repo/build/bin/ferry"

work=$(mktemp -d /tmp/ferry-demo.XXXXXX)
sshd_pid=""
cleanup() {
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

# A free port on 127.0.0.1: one nothing answers on.
port=""
for candidate in $(shuf -i 20000-60000 -n 50); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "demo: no free port found" >&2; exit 1; }

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
: > "$work/authorized_keys"
chmod 600 "$work/authorized_keys"
cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PATH=$repo/build/bin:/usr/bin:/bin
CONF
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
echo "demo: throwaway sshd (pid $sshd_pid) on 127.0.0.1:$port"

# A sample folder with the things a backup must keep.
src="$work/Documents"
mkdir -p "$src/Projects/ferry" "$src/Empty folder"
echo "meeting notes" > "$src/notes.txt"
head -c 2000000 /dev/urandom > "$src/Projects/photo.raw"
printf 'odd name\n' > "$src/-dash and
newline"
ln -s notes.txt "$src/notes-link"
ln "$src/notes.txt" "$src/Projects/notes-hardlink"
setfattr -n user.tag -v important "$src/notes.txt" 2>/dev/null || true
chmod 4755 "$src/Projects/ferry"
if [ "$(id -u)" -eq 0 ]; then chown -h 501:20 "$src/notes.txt" "$src/notes-link"; fi
touch -h -d '2021-03-04 05:06:07.123456789' "$src/notes-link" "$src/Projects"

export FERRY_HOME="$work/ferry-home"
user=$(id -un)

# The two setup commands of the README: a key and its package on the client, the package
# installed on the server (here into the throwaway sshd's authorized_keys), confined to one folder.
echo "demo: ferry keys create"
"$ferry" keys create --name demo --type ed25519 --out "$work/demo.ferrycreds"
echo "demo: ferry-agent install-credentials"
"$repo/build/bin/ferry-agent" install-credentials "$work/demo.ferrycreds" --root "$work/backups" \
  --authorized-keys "$work/authorized_keys" --host-key-dir "$work" | tee "$work/install.out"
fingerprint=$(grep -o 'SHA256:[A-Za-z0-9+/]*' "$work/install.out" | tail -1)

echo "demo: ferry doctor (pins the host key printed above)"
"$ferry" doctor --port "$port" --host-fingerprint "$fingerprint" "$user@127.0.0.1:$work/backups/Documents"
echo "demo: ferry backup $src -> $user@127.0.0.1:$work/backups/Documents"
"$ferry" backup --port "$port" --stats "$src" "$user@127.0.0.1:$work/backups/Documents"
echo "demo: ferry restore $user@127.0.0.1:$work/backups/Documents -> $work/restored"
"$ferry" restore --port "$port" --stats "$user@127.0.0.1:$work/backups/Documents" "$work/restored"

# type, mode, owner, group, mtime (ns), size, link target, hardlink count, name; plus contents and xattrs.
# Ferry's own .ferry-state (lock, last-run marker, files being written) and .ferry-safetynet
# are not user data, so they are left out of the comparison.
# The top folder's link count is left out too: .ferry-state is one more subfolder in it.
listing() {
  (cd "$1" && find . -maxdepth 0 -printf '%y %m %U %G %T@ %p\n' &&
    find . -mindepth 1 \( -path ./.ferry-state -o -path ./.ferry-safetynet \) -prune -o \
      -printf '%y %m %U %G %T@ %s %n %l %p\n' | sort)
}
for copy in backups/Documents restored; do
  diff <(listing "$src") <(listing "$work/$copy")
  diff -r --no-dereference --exclude=.ferry-state --exclude=.ferry-safetynet "$src" "$work/$copy"
  if command -v getfattr >/dev/null; then
    diff <(cd "$src" && getfattr -R -h -d . 2>/dev/null) <(cd "$work/$copy" && getfattr -R -h -d . 2>/dev/null)
  fi
done
echo "demo: OK: the backup and the restored copy match the original (contents, names, modes, owners, ns mtimes, links, xattrs)"

# A mirror: a file deleted from the source leaves the backup, into the safety net.
rm "$src/Projects/photo.raw"
echo "demo: ferry backup --delete (photo.raw was deleted from the source)"
"$ferry" backup --port "$port" --delete --stats "$src" "$user@127.0.0.1:$work/backups/Documents"
test ! -e "$work/backups/Documents/Projects/photo.raw"
kept=$(ls -d "$work"/backups/Documents/.ferry-safetynet/*/Projects/photo.raw)
echo "demo: OK: photo.raw left the backup and is kept in $kept"
