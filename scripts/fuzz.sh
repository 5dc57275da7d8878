#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan+UBSan, -DLEGODNN_FUZZ=ON) in their own tree and
# runs each for a bounded time on its seed corpus (fuzz/seeds/<target>/ plus real files: the
# scenarios, the teachers' model.json). Stops with a non-zero status if any target found a crash,
# a hang or a sanitizer report; the input that did it is left in $BUILD_DIR/artifacts/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    default 60 s; targets: manifest model
#                                                       baseline scenario tensor_file
#   scripts/fuzz.sh --seeds    rewrites fuzz/seeds/ from the tests' tiny repository and baseline
#                              (needs the main build: ./run.sh build)
# Environment: LEGODNN_FUZZ_BUILD_DIR (build-fuzz), LEGODNN_FUZZ_BASE_ONLY=1 (only the torch-free
# targets: no Torch in that tree), LEGODNN_FUZZ_SEED (libFuzzer's -seed; unset: a new one each run,
# CI sets one so that its run repeats the same mutations), LEGODNN_JOBS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${LEGODNN_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${LEGODNN_JOBS:-$(nproc)}
log() { printf '[fuzz.sh] %s\n' "$*" >&2; }

if [ "${1:-}" = "--seeds" ]; then
  [ -x build/legodnn_tests ] || { log "no build/legodnn_tests: run ./run.sh build first"; exit 2; }
  rm -rf fuzz/seeds/manifest fuzz/seeds/tensor_file fuzz/seeds/baseline
  LEGODNN_SOURCE_DIR=$PWD LEGODNN_FUZZ_SEEDS=$PWD/fuzz/seeds build/legodnn_tests --gtest_filter='FuzzSeeds.*'
  exit 0
fi

SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
base_only=${LEGODNN_FUZZ_BASE_ONLY:-0}
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(manifest model baseline scenario)
  [ "$base_only" = 1 ] || TARGETS+=(tensor_file)
fi

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  log "configuring the fuzz targets in $BUILD_DIR (clang, ASan+UBSan)"
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DLEGODNN_FUZZ=ON)
  [ "$base_only" = 1 ] && flags+=(-DLEGODNN_BASE_ONLY=ON)
  cmake -S . -B "$BUILD_DIR" "${flags[@]}" >/dev/null
fi
log "building ${TARGETS[*]} with $JOBS jobs"
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]/#/fuzz_}"

# Real files next to the committed seeds.
seeds_of() {
  local t=$1 extra="$BUILD_DIR/seeds/$t"
  rm -rf "$extra" && mkdir -p "$extra"
  case "$t" in
    scenario) cp scenarios/*.json "$extra/" ;;
    model) for m in teachers/*/; do cp "$m/model.json" "$extra/$(basename "$m").json"; done ;;
  esac
  echo "$extra"
  [ -d "fuzz/seeds/$t" ] && echo "fuzz/seeds/$t"
  return 0
}

mkdir -p "$BUILD_DIR/artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  mapfile -t seeds < <(seeds_of "$t")
  out="$BUILD_DIR/fuzz_$t.log"
  log "fuzz_$t for ${SECONDS_PER_TARGET} s (log: $out)"
  # Leaks are not what this looks for (LibTorch keeps allocations to the end on purpose).
  status=0
  seed=()
  [ -n "${LEGODNN_FUZZ_SEED:-}" ] && seed=(-seed="$LEGODNN_FUZZ_SEED")
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$BUILD_DIR/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" "${seed[@]}" -timeout=20 -rss_limit_mb=2560 \
    -dict=fuzz/json.dict -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$t-" \
    "$corpus" "${seeds[@]}" >"$out" 2>&1 || status=$?
  runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' || echo "?")
  size=$(find "$corpus" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    log "fuzz_$t FOUND A PROBLEM after $runs runs (status $status):"
    grep -E 'ERROR|SUMMARY|terminate|what\(\)|Test unit written' "$out" | head -20 >&2 || true
  else
    log "fuzz_$t: $runs runs, nothing found; corpus $size inputs"
  fi
done
if ((${#failed[@]})); then
  log "targets with findings: ${failed[*]}"
  exit 1
fi
