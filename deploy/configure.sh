#!/usr/bin/env bash
# Configures the build folder BUILD (run from the repository's top) with the given CMake flags:
# Ninja for a new folder; a folder configured before keeps its own generator (CMake refuses to
# switch, and a developer's Makefiles build is as good). Used by test.sh and demo.sh.
#
#   deploy/configure.sh BUILD [CMAKE FLAGS...]
set -euo pipefail
build=$1
shift
generator=(-G Ninja)
if [ -f "$build/CMakeCache.txt" ]; then generator=(); fi
cmake -S . -B "$build" "${generator[@]}" "$@" >/dev/null
