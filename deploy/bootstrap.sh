#!/usr/bin/env bash
# Installs everything Ferry needs to build, test and benchmark on Debian 12, from Debian's
# own packages, or on macOS from Homebrew. Idempotent and non-interactive: packages already
# present are not touched, and apt is not even consulted when nothing is missing.
set -euo pipefail

if [ "$(uname -s)" = Darwin ]; then
  # macOS: the same libraries from Homebrew (OpenSSH and xattr tools come with the system).
  formulae=(cmake ninja ccache pkg-config libssh openssl@3 zstd boost xxhash cli11 spdlog fmt
            nlohmann-json doctest rsync utf8proc tomlplusplus)
  if ! command -v brew >/dev/null; then
    echo "bootstrap: Homebrew is needed on macOS (https://brew.sh), then run this again" >&2
    exit 1
  fi
  missing=()
  for f in "${formulae[@]}"; do
    brew list --formula "$f" >/dev/null 2>&1 || missing+=("$f")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "bootstrap: all ${#formulae[@]} Homebrew formulae already installed"
  else
    echo "bootstrap: brew install ${missing[*]}"
    HOMEBREW_NO_AUTO_UPDATE=1 brew install "${missing[@]}"
  fi
  exit 0
fi

packages=(
  # toolchain; clang and its runtimes build the libFuzzer targets (tests/fuzz/run.sh)
  g++ cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev
  # libraries (see README, "Dependencies")
  libssh-dev libssl-dev libzstd-dev libboost-dev libxxhash-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev doctest-dev libacl1-dev
  libutf8proc-dev libtomlplusplus-dev
  # tests and benchmark: a real sshd and the tool we compare against
  openssh-server openssh-client rsync attr acl
  # tests: a FUSE destination (bindfs), which flush calls the agent makes (strace), and a
  # btrfs mounted noacl (a file system with user attributes but no ACLs), and one that clones
  bindfs strace btrfs-progs
  # bench/scale.py --fs xfs: the other Linux file system that clones (a delta rebuilt on a clone)
  xfsprogs
  # tests: a case-insensitive FUSE file system of the tests' own (tests/support/casefold_fs.cc)
  fuse3 libfuse3-dev
  # tests: generated timer units checked with systemd-analyze verify (no scheduler runs in CI)
  systemd
  # bench/bench.py; the tests parse generated launchd plists with python3's plistlib
  python3 e2fsprogs
  # packaging (cpack -G DEB finds the package's dependencies with dpkg-shlibdeps); the tests
  # render the generated manual pages with groff and check the zsh completion's syntax
  dpkg-dev groff-base zsh
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends keeps a fresh machine lean; policy-rc.d keeps apt from starting
# a system-wide sshd we did not ask for (tests start their own on a free port), also when this
# runs as a user and installs through sudo. (FERRY_POLICY_RC_D moves it, for the test of this.)
policy=${FERRY_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$policy" ]; then
  $sudo sh -c "printf '#!/bin/sh\\nexit 101\\n' > '$policy' && chmod +x '$policy'"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
