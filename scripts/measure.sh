#!/usr/bin/env bash
# Reproduces the figures quoted in README.md (Results). Run on a quiet machine: nothing else heavy
# may run meanwhile (two cores). Writes its log to out/measure.log and prints it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./run.sh build >/dev/null
B=build/legodnn
mkdir -p out
exec > >(tee out/measure.log) 2>&1
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ "${1:-}" != "--skip-bench" ]; then
  echo "== IR executor vs torch::nn ResNet-20"
  build/bench_executor --threads 1
  build/bench_executor --threads 2
  echo "== scaling optimizer: built-in vs CBC in-process vs PuLP + cbc subprocess"
  build/bench_optimizer
fi
echo "== shipped teachers"
for m in resnet20 vgg11_bn mobilenetv2; do $B eval --checkpoint teachers/$m --threads 2; done
echo "== resnet20: compositions pruned but not retrained"
$B eval --checkpoint teachers/resnet20 --uniform 0.2,0.4,0.6,0.8 --threads 2
echo "== resnet20: legodnn build with the default (quick) settings"
rm -rf out/measure/resnet20
/usr/bin/time -f "build wall time %e s" $B build --checkpoint teachers/resnet20 --out out/measure/resnet20 --threads 2 2>&1 \
  | grep -v "retrain epoch .* batch"
$B inspect out/measure/resnet20
echo "== resnet20: compositions after retraining"
for s in 0.2 0.4 0.6 0.8; do $B eval --repo out/measure/resnet20 --select $s --threads 2; done
echo "== one teacher-training epoch on the same 20,000 images"
$B train --model resnet20 --epochs 1 --subset 20000 --out out/measure/teacher-epoch --threads 2 2>&1 | grep "done in"
if [ "${1:-}" != "--skip-bench" ]; then
  echo "== serving: switches, composition latency, latency estimator"
  build/bench_serving --repo out/measure/resnet20 --threads 2
fi
echo "== the demo (first run builds the demo repositories and baselines; the figures are from a rerun)"
$B demo
$B demo
