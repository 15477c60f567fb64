#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and fuzzes each for SECONDS_PER_TARGET
# (default 60), one after the other. Each starts from its committed corpus (tests/fuzz/corpus/
# <target>, only read) and keeps what it finds in a scratch folder, so a run never changes the
# tree. Fails if any target crashed; the crashing inputs are in the scratch folder, to be copied
# into the corpus as regression inputs once fixed.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   FERRY_FUZZ_MERGE=1 tests/fuzz/run.sh 600     also merge new coverage into the corpus
#
# Environment: FERRY_FUZZ_BUILD (default build-fuzz), FERRY_FUZZ_SCRATCH (default
# build-fuzz/fuzz-scratch), FERRY_FUZZ_JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
shift || true
build=${FERRY_FUZZ_BUILD:-build-fuzz}
scratch=${FERRY_FUZZ_SCRATCH:-$build/fuzz-scratch}

CXX=${FERRY_FUZZ_CXX:-clang++-14} cmake -S . -B "$build" -G Ninja -DFERRY_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the fuzz targets and the libraries they link: nothing else is needed here.
nice -n 10 cmake --build "$build" --target fuzz_targets -j "${FERRY_FUZZ_JOBS:-2}"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for corpus in tests/fuzz/corpus/*/; do targets+=("$(basename "$corpus")"); done
fi

failed=()
total_runs=0
for t in "${targets[@]}"; do
  bin="$build/bin/fuzz_$t"
  work="$scratch/$t"
  mkdir -p "$work/new" "$work/crashes" "$work/tmp"
  set +e
  # The receiver target writes into TMPDIR: keep that inside the scratch folder.
  TMPDIR="$work/tmp" nice -n 10 "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/" "$work/new" "tests/fuzz/corpus/$t" \
    >"$work/log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  total_runs=$((total_runs + ${runs:-0}))
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz $t: FAILED after ${runs:-?} runs; see $work/log and $work/crashes/"
    grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error|deadly signal' "$work/log" || tail -20 "$work/log"
  else
    echo "fuzz $t: ${seconds} s, ${runs:-?} runs, $(ls "$work/new" | wc -l) new inputs in $work/new"
  fi
  if [ "${FERRY_FUZZ_MERGE:-0}" = 1 ] && [ $rc -eq 0 ]; then
    "$bin" -merge=1 "tests/fuzz/corpus/$t" "$work/new" >"$work/merge.log" 2>&1
  fi
done

echo "fuzzed ${#targets[@]} targets for ${seconds} s each: ${total_runs} runs in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]}"
  exit 1
fi
