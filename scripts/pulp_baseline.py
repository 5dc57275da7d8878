#!/usr/bin/python3
"""The authors' way of choosing blocks, as a baseline for bench_optimizer.

For every decision the original LegoDNN tool built a PuLP model (one binary LpVariable per block
option, lpSum constraints) and let PuLP run the CBC solver as a subprocess. This script does the
same for the instances in a JSON file and times each decision (build + solve) with
time.perf_counter.

    /usr/bin/python3 scripts/pulp_baseline.py INSTANCES.json [--repeats N] > RESULTS.json

Debian's python3-pulp is installed for /usr/bin/python3 and runs /usr/bin/cbc (package
coinor-cbc) through pulp.COIN_CMD; the bundled PULP_CBC_CMD binary is not shipped by Debian.

Input:
  {"instances": [{"name": str, "objective": "sum" | "maxmin",
                  "memory_bytes": float | null,          # null: no memory budget
                  "processor_share": bool,
                  "models": [{"name": str, "accuracy": float, "frame_ms": float, "frame_bytes": float,
                              "deadline_ms": float | null, "weight": float, "rate_hz": float,
                              "blocks": [[[drop, latency_ms, bytes], ...], ...]}]}]}
Output:
  {"solver": str, "results": [{"name": str, "status": "Optimal" | "Infeasible" | ...,
                               "objective": float | null,   # of the chosen selection
                               "choice": [[int, ...], ...] | null,
                               "seconds": [float, ...]}]}   # one per repeat
Exit status 3 when PuLP or its CBC solver is missing.
"""
import argparse
import json
import sys
import time

try:
    import pulp
except ImportError:
    print("pulp_baseline.py: python3-pulp is not installed for " + sys.executable, file=sys.stderr)
    sys.exit(3)


def build(inst):
    """The PuLP model of one decision and its binaries x[m][i][j]."""
    sense = pulp.LpMaximize
    prob = pulp.LpProblem("legodnn_selection", sense)
    models = inst["models"]
    x = [[[pulp.LpVariable("x_%d_%d_%d" % (m, i, j), cat=pulp.LpBinary) for j in range(len(opts))]
          for i, opts in enumerate(model["blocks"])] for m, model in enumerate(models)]
    accuracy = [model["accuracy"] - pulp.lpSum(opt[0] * x[m][i][j] for i, opts in enumerate(model["blocks"])
                                               for j, opt in enumerate(opts))
                for m, model in enumerate(models)]
    latency = [model["frame_ms"] + pulp.lpSum(opt[1] * x[m][i][j] for i, opts in enumerate(model["blocks"])
                                              for j, opt in enumerate(opts))
               for m, model in enumerate(models)]
    if inst.get("objective", "sum") == "maxmin":
        t = pulp.LpVariable("t")
        prob += t
        for a in accuracy:
            prob += t <= a
    else:
        prob += pulp.lpSum(model.get("weight", 1.0) * a for model, a in zip(models, accuracy))
    for m, model in enumerate(models):
        for i in range(len(model["blocks"])):
            prob += pulp.lpSum(x[m][i]) == 1
        if model.get("deadline_ms") is not None:
            prob += latency[m] <= model["deadline_ms"]
    if inst.get("memory_bytes") is not None:
        prob += pulp.lpSum(model["frame_bytes"] for model in models) + pulp.lpSum(
            opt[2] * x[m][i][j] for m, model in enumerate(models) for i, opts in enumerate(model["blocks"])
            for j, opt in enumerate(opts)) <= inst["memory_bytes"]
    if inst.get("processor_share"):
        prob += pulp.lpSum(model.get("rate_hz", 0.0) / 1000.0 * lat for model, lat in zip(models, latency)) <= 1
    return prob, x


def objective_of(inst, choice):
    """Sum of weighted accuracies, or the minimum accuracy, of a selection (as evaluate_choice)."""
    acc = [model["accuracy"] - sum(model["blocks"][i][j][0] for i, j in enumerate(c))
           for model, c in zip(inst["models"], choice)]
    if inst.get("objective", "sum") == "maxmin":
        return min(acc)
    return sum(model.get("weight", 1.0) * a for model, a in zip(inst["models"], acc))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("instances")
    ap.add_argument("--repeats", type=int, default=1, help="decisions timed per instance")
    args = ap.parse_args()
    solver = pulp.COIN_CMD(msg=False)
    if not solver.available():
        print("pulp_baseline.py: PuLP finds no CBC binary (Debian package coinor-cbc)", file=sys.stderr)
        sys.exit(3)
    with open(args.instances) as f:
        instances = json.load(f)["instances"]
    results = []
    for inst in instances:
        seconds = []
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            prob, x = build(inst)
            prob.solve(solver)
            seconds.append(time.perf_counter() - t0)
        status = pulp.LpStatus[prob.status]
        choice = None
        objective = None
        if prob.status == pulp.LpStatusOptimal:
            choice = [[max(range(len(xs)), key=lambda j: xs[j].varValue or 0.0) for xs in xm] for xm in x]
            objective = objective_of(inst, choice)
        results.append({"name": inst.get("name", ""), "status": status, "objective": objective,
                        "choice": choice, "seconds": seconds})
    json.dump({"solver": "PuLP %s, COIN_CMD (%s)" % (pulp.__version__, solver.path), "results": results},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
