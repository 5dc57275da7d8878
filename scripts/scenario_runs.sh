#!/usr/bin/env bash
# Runs scenarios repeatedly with both systems, quiet and with an outside process loading one core
# (load the scenario does not announce), and prints per scenario and condition the median and range
# of each system's served accuracy, miss rate, bytes moved and switches (issue 16's table).
#
#   scripts/scenario_runs.sh [--repeats N] [--quiet-only] SCENARIO.json...
#
# Needs the demo's repositories and baselines (./run.sh demo once). Run on an otherwise quiet
# machine. Results go to out/scenario-runs/<scenario>/<condition>-<k>/ and out/scenario-runs/table.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repeats=3
conditions=(quiet loaded)
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --quiet-only) conditions=(quiet); shift ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=(out/demo/scenario.json scenarios/four-models.json scenarios/tight-memory.json)
out=out/scenario-runs
mkdir -p "$out"
load_pid=""
stop_load() { if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; load_pid=""; fi; }
trap stop_load EXIT
for f in "${files[@]}"; do
  name=$(basename "$f" .json)
  [ "$f" = out/demo/scenario.json ] && name=default
  for cond in "${conditions[@]}"; do
    for k in $(seq 1 "$repeats"); do
      dir="$out/$name/$cond-$k"
      if [ "$cond" = loaded ]; then
        # One busy process outside the runner, for the whole run.
        sh -c 'while :; do :; done' &
        load_pid=$!
      fi
      mkdir -p "$dir"
      echo "== $name, $cond, run $k" >&2
      build/legodnn run --scenario "$f" --system both --out "$dir" --trace-inferences >"$dir/run.log" 2>&1 || { echo "failed: see $dir/run.log" >&2; exit 1; }
      stop_load
    done
  done
done
/usr/bin/python3 - "$out" <<'EOF' | tee "$out/table.txt"
import json, os, statistics, sys
root = sys.argv[1]
def fmt(v, f):
    return f % v
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    if not os.path.isdir(d):
        continue
    runs, dirs = {}, {}
    for r in sorted(os.listdir(d)):
        p = os.path.join(d, r, "summary.json")
        if os.path.isfile(p):
            runs.setdefault(r.rsplit("-", 1)[0], []).append(json.load(open(p)))
            dirs.setdefault(r.rsplit("-", 1)[0], []).append(os.path.join(d, r))
    for cond, rs in sorted(runs.items()):
        print(f"{name} ({cond}, {len(rs)} runs): median [min, max]")
        for i, system in enumerate(s["system"] for s in rs[0]):
            def col(key, scale=1.0):
                return [r[i][key] * scale if r[i][key] is not None else float("nan") for r in rs]
            acc = [100 * r[i]["correct"] / max(1, r[i]["inferences"]) for r in rs]
            miss = [100 * r[i]["misses"] / max(1, r[i]["inferences"]) for r in rs]
            mb = col("bytes_moved", 1e-6)
            disk = [r[i].get("bytes_from_disk", float("nan")) * 1e-6 for r in rs]
            sw = col("switches")
            est = [100 * (r[i]["mean_estimated_accuracy"] or 0) for r in rs]
            win = [100 * (r[i]["mean_measured_accuracy"] or 0) for r in rs]
            def m(v, f="%.2f"):
                return f"{statistics.median(v):{f[1:]}} [{min(v):{f[1:]}}, {max(v):{f[1:]}}]"
            print(f"  {system:14s} accuracy {m(acc)}%  misses {m(miss)}%  MB moved {m(mb)} (from disk {m(disk)})  switches {m(sw, '%.0f')}"
                  f"  est-measured(window) {m([e - w for e, w in zip(est, win)])} pt")
            # Per model: the mean estimate against the accuracy of the images it served (their
            # count sets the resolution: about +-1 point at 1,000 images).
            per = []
            for j, mod in enumerate(rs[0][i]["models"]):
                d = [100 * ((r[i]["models"][j]["mean_estimated_accuracy"] or 0) -
                            r[i]["models"][j]["correct"] / max(1, r[i]["models"][j]["inferences"])) for r in rs]
                n = statistics.median(r[i]["models"][j]["inferences"] for r in rs)
                per.append(f"{mod['name']} {m(d)} ({n:.0f} images)")
            print(f"  {'':14s} est-served per model: " + "; ".join(per) + " pt")
            # Misses in the first half second (the per-inference trace), summed over the runs.
            early = 0
            for rd in dirs[cond]:
                tp = os.path.join(rd, f"inferences-{system}.csv")
                if os.path.isfile(tp):
                    for line in open(tp).read().splitlines()[1:]:
                        f = line.rsplit(",", 6)
                        early += float(f[1]) < 0.5 and f[4] == "1"
            print(f"  {'':14s} misses in the first 0.5 s: {early} over {len(dirs[cond])} runs")
        # The tightest phase: where the last system (the model-grained baseline) is least accurate.
        phases = [[(p["correct"] / p["inferences"] if p["inferences"] else 1.0) for p in r[-1]["phases"]] for r in rs]
        if phases and phases[0]:
            tight = min(range(len(phases[0])), key=lambda k: statistics.median(ph[k] for ph in phases))
            gaps = [100 * ((r[0]["phases"][tight]["correct"] / max(1, r[0]["phases"][tight]["inferences"])) -
                           (r[1]["phases"][tight]["correct"] / max(1, r[1]["phases"][tight]["inferences"]))) for r in rs if len(r) > 1]
            if gaps:
                print(f"  tightest phase (e{tight}, '{rs[0][0]['phases'][tight]['began_with']}'): {rs[0][0]['system']} - "
                      f"{rs[0][1]['system']} accuracy {statistics.median(gaps):.2f} [{min(gaps):.2f}, {max(gaps):.2f}] pt")
EOF
