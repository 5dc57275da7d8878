#!/usr/bin/env bash
# One entry point for newcomers and CI. Every command first does the set-up it needs
# (Debian packages, configure, incremental build); a second run skips what is done.
#   ./run.sh build   set-up and build; the program is then build/legodnn
#   ./run.sh test    set-up, build, then every test (CTest summary at the end); the torch-free core
#                    is also built alone in build-base/ (no Torch) and its tests run there
#   ./run.sh demo    set-up, build, then the main job
#   ./run.sh bench   set-up, build, then the benchmarks
#   ./run.sh sanitize  the tests built with AddressSanitizer + UndefinedBehaviorSanitizer (own trees)
#   ./run.sh fuzz [SECONDS] [TARGET...]  every loader's libFuzzer target (scripts/fuzz.sh)
# With CI=true, `test` also runs the torch-free tests under ASan+UBSan and every fuzz target (none
# has an open finding) for LEGODNN_CI_FUZZ_SECONDS (30) seconds each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

BUILD_DIR=${LEGODNN_BUILD_DIR:-build}
BASE_BUILD_DIR=${LEGODNN_BASE_BUILD_DIR:-build-base}
JOBS=${LEGODNN_JOBS:-$(nproc)}

# Debian 12 packages the project needs. libopenblas0-openmp matters: without it batch-1
# convolutions fall back to the reference BLAS and run ~10x slower.
PACKAGES=(
  g++ cmake make ccache pkg-config
  libtorch-dev libopenblas0-openmp
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libstb-dev
  libgtest-dev libbenchmark-dev
  coinor-libcbc-dev
  python3-pulp coinor-cbc
  dataset-fashion-mnist
  python3-torch python3-torchvision
  gnuplot-nox
)
# Only for the hardening builds (sanitize, fuzz, and CI's test): clang and its libFuzzer runtime.
HARDEN_PACKAGES=(clang libclang-rt-14-dev)

log() { printf '[run.sh] %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  install_packages "${PACKAGES[@]}"
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    log "configuring in $BUILD_DIR"
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
  fi
  log "building with $JOBS jobs"
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# The torch-free core alone (CMake never looks for Torch), so that CI proves it compiles and links
# without Torch; its tests include base.NoTorchHeaders (no compiled file read a Torch header).
build_base() {
  if [ ! -f "$BASE_BUILD_DIR/CMakeCache.txt" ]; then
    log "configuring the torch-free core in $BASE_BUILD_DIR (without Torch)"
    cmake -S . -B "$BASE_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DLEGODNN_BASE_ONLY=ON
  fi
  log "building the torch-free core with $JOBS jobs"
  cmake --build "$BASE_BUILD_DIR" -j "$JOBS"
}

# The torch-free core and its tests under ASan+UBSan (gcc), in its own tree; any report fails a test.
SANITIZE_BASE_DIR=${LEGODNN_SANITIZE_BASE_DIR:-build-asan-base}
sanitize_base() {
  install_packages "${PACKAGES[@]}" "${HARDEN_PACKAGES[@]}"
  if [ ! -f "$SANITIZE_BASE_DIR/CMakeCache.txt" ]; then
    log "configuring the torch-free core with ASan+UBSan in $SANITIZE_BASE_DIR"
    cmake -S . -B "$SANITIZE_BASE_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEGODNN_BASE_ONLY=ON -DLEGODNN_SANITIZE=ON
  fi
  cmake --build "$SANITIZE_BASE_DIR" -j "$JOBS"
  log "the torch-free tests under ASan+UBSan ($SANITIZE_BASE_DIR)"
  (cd "$SANITIZE_BASE_DIR" && ctest --output-on-failure -j "$JOBS")
}

fuzz() {
  install_packages "${PACKAGES[@]}" "${HARDEN_PACKAGES[@]}"
  LEGODNN_JOBS=$JOBS scripts/fuzz.sh "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  build)
    build ;;
  test)
    build
    build_base
    log "the torch-free core's tests, linked without Torch ($BASE_BUILD_DIR)"
    (cd "$BASE_BUILD_DIR" && ctest --output-on-failure -j "$JOBS" "$@")
    log "every other test ($BUILD_DIR; label base ran above)"
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" -LE base "$@")
    if [ "${CI:-}" = true ]; then
      sanitize_base
      # Every target (fuzz/findings/README.md has none open). The tensor-file target needs LibTorch,
      # so it is built in a tree of its own with Torch (build-fuzz).
      log "the fuzz targets, ${LEGODNN_CI_FUZZ_SECONDS:-30} s each"
      # A fixed seed: a CI run repeats the same mutations (longer, fresh fuzzing: ./run.sh fuzz).
      export LEGODNN_FUZZ_SEED=${LEGODNN_FUZZ_SEED:-1}
      LEGODNN_FUZZ_BASE_ONLY=1 LEGODNN_FUZZ_BUILD_DIR=build-fuzz-base fuzz "${LEGODNN_CI_FUZZ_SECONDS:-30}" manifest model baseline scenario
      LEGODNN_FUZZ_BUILD_DIR=build-fuzz fuzz "${LEGODNN_CI_FUZZ_SECONDS:-30}" tensor_file
    fi ;;
  sanitize)
    sanitize_base ;;
  fuzz)
    fuzz "$@" ;;
  demo)
    build
    "$BUILD_DIR/legodnn" demo --teachers teachers "$@" ;;
  bench)
    build
    "$BUILD_DIR/bench_executor" "$@"
    "$BUILD_DIR/bench_optimizer"
    # Serving needs a profiled repository, which ./run.sh demo builds.
    if [ -f out/repos/resnet20/manifest.json ]; then
      "$BUILD_DIR/bench_serving" --repo out/repos/resnet20
    else
      log "skipping bench_serving: no repository at out/repos/resnet20 (run ./run.sh demo first)"
    fi ;;
  *)
    echo "usage: ./run.sh {build|test|demo|bench|sanitize|fuzz} [args...]" >&2
    exit 2 ;;
esac
