#include "legodnn/report/tables.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "legodnn/repository/selection.h"
#include "legodnn/util/format.h"

namespace legodnn {
namespace {
using nlohmann::json;

size_t conv_count(const Manifest& man, const BlockRecord& b) {
  return static_cast<size_t>(std::count_if(b.nodes.begin(), b.nodes.end(),
                                           [&](const std::string& n) { return man.teacher.node(n).op == Op::Conv2d; }));
}

}  // namespace

std::string inspect_text(const std::string& dir, const Manifest& man) {
  std::string o = fmt::format("repository {}: model {}, input {}, {} classes, {} blocks\n", dir, man.model,
                              shape_string(man.input_shape), man.classes, man.blocks.size());
  for (const auto& [stage, info] : man.stages.items()) o += fmt::format("  stage {:<12} {}\n", stage, info.dump());
  // Any other document a manifest's profile holds is shown as far as it goes: a field that is not
  // there reads "?", never 0 (parse_manifest requires the ones the optimizer reads once profiled).
  const json& p = man.profile;
  if (p.is_object() && !p.empty()) {
    auto at = [](const json& obj, const char* key) -> const json* {
      if (!obj.is_object()) return nullptr;
      auto it = obj.find(key);
      return it == obj.end() ? nullptr : &*it;
    };
    static const json kNone;
    auto get = [&](const json& obj, const char* key) -> const json& {
      const json* v = at(obj, key);
      return v ? *v : kNone;
    };
    auto num = [](const json& v, double scale, const char* spec) -> std::string {
      return v.is_number() ? fmt::format(fmt::runtime(spec), scale * v.get<double>()) : std::string("?");
    };
    auto text = [](const json& v) { return v.is_null() ? std::string("?") : v.dump(); };
    const json& lat = get(p, "latency");
    o += fmt::format("  teacher test accuracy {}%, val {}%; latency teacher {} ms, frame {} ms (batch {})\n",
                     num(get(p, "teacher_test_accuracy"), 100, "{:.2f}"), num(get(p, "teacher_val_accuracy"), 100, "{:.2f}"),
                     num(get(lat, "teacher_ms"), 1, "{:.3f}"), num(get(lat, "frame_ms"), 1, "{:.3f}"),
                     text(get(lat, "batch")));
    const json& ec = get(p, "estimate_check");
    const json& comps = get(ec, "compositions");
    o += fmt::format("  drops: contexts {} on {} validation images, scaled by {} (fitted on {} validation compositions)\n",
                     text(get(p, "contexts")), text(get(p, "drop_images")), num(get(p, "drop_scale"), 1, "{:.3f}"),
                     text(get(p, "calibration_compositions")));
    o += fmt::format("  additive estimate on {} random compositions ({} set): mean abs error {} points, max {}\n",
                     comps.is_array() ? std::to_string(comps.size()) : std::string("?"),
                     get(ec, "split").is_string() ? get(ec, "split").get<std::string>() : std::string("?"),
                     num(get(ec, "mean_abs_error"), 100, "{:.2f}"), num(get(ec, "max_abs_error"), 100, "{:.2f}"));
  }
  o += "\nblock  convs  entry          exit           first node .. exit node\n";
  for (const auto& b : man.blocks)
    o += fmt::format("{:>5}  {:>5}  {:<13}  {:<13}  {} .. {}\n", b.id, conv_count(man, b), shape_string(b.entry_shape),
                     shape_string(b.exit_shape), b.nodes.front(), b.exit);
  o += "\nblock  sparsity   params      MACs   latency_ms  drop%   raw%    se%   mse_pruned  mse_retrained\n";
  for (const auto& b : man.blocks)
    for (const auto& d : b.descendants) {
      const auto& q = d.profile;
      o += fmt::format("{:>5}  {:>8.2f}  {:>7}  {:>9}  {:>10.4f}  {:>5.2f}  {:>5.2f}  {:>5.2f}  {:>10.5f}  {:>13.5f}\n", b.id,
                       d.sparsity, q.params, q.macs, q.latency_ms, 100 * q.acc_drop, 100 * q.acc_drop_raw,
                       100 * q.acc_drop_se, q.mse_pruned, q.mse_retrained);
    }
  return o;
}

std::pair<std::string, std::string> inspect_csv(const Manifest& man) {
  std::string blocks = "block,convs,entry,exit,entry_shape,exit_shape,first_node\n";
  for (const auto& b : man.blocks)
    blocks += fmt::format("{},{},{},{},\"{}\",\"{}\",{}\n", b.id, conv_count(man, b), b.entry, b.exit,
                          shape_string(b.entry_shape), shape_string(b.exit_shape), b.nodes.front());
  std::string prof = "block,sparsity,params,macs,bytes,latency_ms,acc_drop,acc_drop_raw,acc_drop_se,mse_pruned,mse_retrained\n";
  for (const auto& b : man.blocks)
    for (const auto& d : b.descendants) {
      const auto& q = d.profile;
      prof += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", b.id, d.sparsity, q.params, q.macs, q.bytes, q.latency_ms,
                          q.acc_drop, q.acc_drop_raw, q.acc_drop_se, q.mse_pruned, q.mse_retrained);
    }
  return {blocks, prof};
}

json selection_json(const ScalingDecision& d, const std::vector<const Manifest*>& manifests,
                    const std::vector<std::string>& repos, const std::vector<std::string>& names,
                    const std::string& solver, double solve_us) {
  json doc = {{"feasible", d.feasible}, {"objective", d.objective}, {"solver", solver}, {"solve_us", solve_us},
              {"memory_mb", d.memory_bytes / 1e6}, {"memory_excess_mb", d.memory_excess_bytes / 1e6},
              {"models", json::array()}};
  for (size_t m = 0; m < manifests.size(); ++m)
    doc["models"].push_back({{"repo", repos[m]}, {"model", names[m]},
                             {"sparsities", selection_sparsities(*manifests[m], d.choice[m])},
                             {"accuracy", d.accuracy[m]}, {"latency_ms", d.latency_ms[m]},
                             {"deadline_excess_ms", d.deadline_excess_ms[m]}});
  return doc;
}

std::string selection_text(const json& doc) {
  const double excess = doc["memory_excess_mb"].get<double>();
  std::string o = fmt::format("{}; solved in {:.0f} us ({}); memory {:.3f} MB{}\n",
                              doc["feasible"].get<bool>() ? "feasible" : "INFEASIBLE: least-violating selection",
                              doc["solve_us"].get<double>(), doc["solver"].get<std::string>(),
                              doc["memory_mb"].get<double>(),
                              excess > 0 ? fmt::format(" (over budget by {:.3f} MB)", excess) : "");
  for (const auto& jm : doc["models"]) {
    const double late = jm["deadline_excess_ms"].get<double>();
    o += fmt::format("  {:<12} sparsities {}  est. accuracy {:.2f}%  est. latency {:.3f} ms{}\n",
                     jm["model"].get<std::string>(), jm["sparsities"].dump(), 100 * jm["accuracy"].get<double>(),
                     jm["latency_ms"].get<double>(), late > 0 ? fmt::format(" (over deadline by {:.3f} ms)", late) : "");
  }
  return o;
}

std::string baseline_table(const ModelGrainedManifest& man) {
  std::string o = "sparsity  accuracy%  pruned%   drop%  latency_ms     bytes      params        MACs  train_s\n";
  for (const auto& v : man.variants)
    o += fmt::format("{:>8.2f}  {:>9.2f}  {:>7.2f}  {:>6.2f}  {:>10.4f}  {:>8}  {:>10}  {:>10}  {:>7.0f}\n", v.sparsity,
                     100 * v.accuracy, 100 * v.pruned_accuracy, 100 * (man.teacher_accuracy - v.accuracy), v.latency_ms,
                     v.bytes, v.params, v.macs, v.train_seconds);
  return o;
}

}  // namespace legodnn
