#!/usr/bin/env bash
# Bring your own model, end to end, as a PyTorch user would (README "Bring your own model"):
#   1. an image folder (made here from Fashion-MNIST as RGB PNGs; use your own photos instead),
#   2. a torchvision architecture trained in PyTorch from random initialization, traced,
#   3. legodnn import, build (block repository) and baseline (model-grained) on those images,
#   4. a scenario serving it next to the shipped resnet20 (on Fashion-MNIST), LegoDNN against
#      model-grained scaling,
#   5. legodnn export of a scaled composition, loaded and measured in plain PyTorch.
# Settings (environment): OUT (out/example), ARCH (mobilenet_v2), SIZE (32), N_TRAIN (6000),
# N_TEST (1000), EPOCHS (3, in PyTorch), RETRAIN_EPOCHS (3) and RETRAIN_IMAGES (0 = all) for the
# imported model's block retraining and whole-model fine-tuning, ZOO_RETRAIN_IMAGES (3000, one
# epoch, as the demo) for resnet20's, SELECT (0.2, the exported composition), PROFILE_IMAGES (500 validation
# images for retraining's epoch pick and the accuracy drops), EVAL_IMAGES (2000 Fashion-MNIST test
# images for resnet20's estimate check and baseline), CHECKS (10 random compositions fitting and
# checking the additive estimate), DURATION (20 s per system), THREADS (2), LEGODNN (build/legodnn).
# A rerun reuses what is complete. Needs ./run.sh build first. tests/slow/test_example.cpp runs a
# small version of it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LEGODNN=${LEGODNN:-$ROOT/build/legodnn}
OUT=${OUT:-$ROOT/out/example}
ARCH=${ARCH:-mobilenet_v2}
SIZE=${SIZE:-32}
N_TRAIN=${N_TRAIN:-6000}
N_TEST=${N_TEST:-1000}
EPOCHS=${EPOCHS:-3}
RETRAIN_EPOCHS=${RETRAIN_EPOCHS:-3}
RETRAIN_IMAGES=${RETRAIN_IMAGES:-0}
ZOO_RETRAIN_IMAGES=${ZOO_RETRAIN_IMAGES:-3000}
SELECT=${SELECT:-0.2}
PROFILE_IMAGES=${PROFILE_IMAGES:-500}
EVAL_IMAGES=${EVAL_IMAGES:-2000}
CHECKS=${CHECKS:-10}
DURATION=${DURATION:-20}
THREADS=${THREADS:-2}
PY=/usr/bin/python3  # Debian's, with python3-torch and python3-torchvision
SPARSITIES=0,0.2,0.4
TRAIN=(--epochs "$RETRAIN_EPOCHS" --train-images "$RETRAIN_IMAGES" --threads "$THREADS")
ZOO_TRAIN=(--epochs 1 --train-images "$ZOO_RETRAIN_IMAGES" --threads "$THREADS")
PROFILE=(--val-images "$PROFILE_IMAGES" --drop-images "$PROFILE_IMAGES" --check "$CHECKS" --calibrate "$CHECKS"
         --no-sweep --latency-compositions 0)

step() { printf '\n== [%ds] %s\n' "$SECONDS" "$*"; }
mkdir -p "$OUT"

step "1. image folder $OUT/images"
[ -d "$OUT/images/test" ] || "$PY" "$HERE/make_image_folder.py" "$OUT/images" "$N_TRAIN" "$N_TEST"

step "2. $ARCH trained in PyTorch, traced"
[ -f "$OUT/$ARCH.pt" ] || "$PY" "$HERE/train_torchvision.py" "$OUT/images" "$ARCH" "$SIZE" "$EPOCHS" "$OUT/$ARCH.pt"

step "3. import, blocks, build and baseline on the image folder"
[ -f "$OUT/teacher/model.json" ] || "$LEGODNN" import "$OUT/$ARCH.pt" --input-shape "3,$SIZE,$SIZE" --out "$OUT/teacher"
"$LEGODNN" eval --checkpoint "$OUT/teacher" --data "$OUT/images"
"$LEGODNN" build --checkpoint "$OUT/teacher" --out "$OUT/repo" --data "$OUT/images" --sparsities "$SPARSITIES" \
  "${TRAIN[@]}" "${PROFILE[@]}"
"$LEGODNN" baseline --teacher "$OUT/teacher" --out "$OUT/baseline" --data "$OUT/images" --sparsities "$SPARSITIES" \
  "${TRAIN[@]}" --eval-images 0
step "   the zoo model it will serve next to: resnet20 on Fashion-MNIST"
"$LEGODNN" build --checkpoint "$ROOT/teachers/resnet20" --out "$OUT/resnet20-repo" --sparsities "$SPARSITIES" \
  "${ZOO_TRAIN[@]}" "${PROFILE[@]}" --test-images "$EVAL_IMAGES"
"$LEGODNN" baseline --teacher "$ROOT/teachers/resnet20" --out "$OUT/resnet20-baseline" --sparsities "$SPARSITIES" \
  "${ZOO_TRAIN[@]}" --eval-images "$EVAL_IMAGES"

step "4. a scenario: both models, memory squeezed to half, then 15%, of the way from the teachers' bytes to the least"
"$PY" - "$OUT" "$ARCH" "$DURATION" <<'PYEOF'
import json, os, sys
out, arch, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
def mb(baseline):
    # Whole-model bytes of the teacher and of the most pruned variant: the most and the least any
    # selection of either system holds (every block at the highest sparsity is that variant).
    v = json.load(open(os.path.join(out, baseline, 'baseline.json')))['variants']
    return v[0]['bytes'] / 1e6, min(x['bytes'] for x in v) / 1e6
full, least = map(sum, zip(mb('baseline'), mb('resnet20-baseline')))
squeeze = lambda f: least + f * (full - least)
sc = {'name': 'example', 'duration_s': duration, 'step_s': 0.5, 'memory_mb': full * 1.2, 'window': 200,
      'models': [{'name': 'resnet20', 'repo': 'resnet20-repo', 'baseline': 'resnet20-baseline', 'rate_hz': 20},
                 {'name': arch, 'repo': 'repo', 'baseline': 'baseline', 'data': 'images', 'rate_hz': 20}],
      'events': [{'at_s': duration / 3, 'type': 'memory', 'memory_mb': squeeze(0.5)},
                 {'at_s': 2 * duration / 3, 'type': 'memory', 'memory_mb': squeeze(0.15)}]}
json.dump(sc, open(os.path.join(out, 'scenario.json'), 'w'), indent=1)
print(f'the teachers hold {full:.2f} MB, the most pruned variants {least:.2f} MB; scenario written to {out}/scenario.json')
PYEOF
"$LEGODNN" run --scenario "$OUT/scenario.json" --out "$OUT/run" --system both

step "5. a composition exported, run in PyTorch"
EVAL=$("$LEGODNN" eval --repo "$OUT/repo" --select "$SELECT" --data "$OUT/images")
echo "$EVAL"
ACC=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' <<<"$EVAL")
[ -n "$ACC" ] || { echo "no accuracy in legodnn eval's output" >&2; exit 1; }
"$LEGODNN" export --repo "$OUT/repo" --select "$SELECT" --out "$OUT/scaled.pt"
"$LEGODNN" export --repo "$OUT/repo" --select "$SELECT" --out "$OUT/scaled.ptl" --mobile
"$PY" "$HERE/check_export.py" "$OUT/scaled.pt" "$OUT/images" "$SIZE" "$ACC"
"$PY" "$HERE/check_export.py" "$OUT/scaled.ptl" "$OUT/images" "$SIZE" "$ACC"
step "done in ${SECONDS} s"
