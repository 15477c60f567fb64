#!/usr/bin/env bash
# Installs what Ferry needs (deploy/bootstrap.sh), builds it, and runs the whole test suite:
# unit tests, then end-to-end tests against a real OpenSSH sshd this suite starts on 127.0.0.1.
#
#   deploy/test.sh                 release build in build/
#   FERRY_SANITIZE=1 deploy/test.sh   ASan + UBSan build in build-asan/
#   FERRY_PLATFORM=posix deploy/test.sh   the POSIX-only backend in build-posix/ (the fallbacks
#                                         macOS takes); .ci/run runs it after the default
#   FERRY_FUZZ_SECONDS=15 deploy/test.sh   then fuzz each target for 15 s (tests/fuzz/run.sh,
#                                          a clang build in build-fuzz/); .ci/run sets this
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/bootstrap.sh

build=build
flags=()
if [ "${FERRY_SANITIZE:-0}" = 1 ]; then
  build=build-asan
  flags+=(-DFERRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
platform=${FERRY_PLATFORM:-auto}
flags+=("-DFERRY_PLATFORM=$platform")
if [ "$platform" != auto ]; then
  build="$build-$platform"
fi
deploy/configure.sh "$build" "${flags[@]}"
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure

# ctest above replayed every fuzz target's corpus; this searches for new crashes for a while.
if [ "${FERRY_FUZZ_SECONDS:-0}" -gt 0 ]; then
  tests/fuzz/run.sh "$FERRY_FUZZ_SECONDS"
fi
