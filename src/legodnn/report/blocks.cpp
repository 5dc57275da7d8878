#include "legodnn/report/blocks.h"

#include <fmt/format.h>

#include "legodnn/util/format.h"

namespace legodnn {
using nlohmann::json;

json blocks_json(const Model& m, const std::string& name, const std::vector<BlockFamily>& families,
                 const std::vector<BlockSpec>& specs) {
  auto shapes = m.graph.infer_shapes();
  auto total = graph_stats(m.graph);
  json doc = {{"model", name}, {"params", total.params}, {"macs", total.macs}, {"blocks", json::array()},
              {"frame", frame_nodes(m.graph, specs)}};
  for (const auto& f : families) {
    auto st = graph_stats(f.original);
    json jb = {{"id", f.spec.id}, {"entry", f.spec.entry}, {"exit", f.spec.exit},
               {"nodes", f.spec.nodes}, {"convs", f.spec.convs}, {"params", st.params},
               {"macs", st.macs}, {"entry_shape", shapes[m.graph.index(f.spec.entry)]},
               {"exit_shape", shapes[m.graph.index(f.spec.exit)]}, {"descendants", json::array()}};
    // The channel groups pruning sees: prunable ones (with their run length, whole groups of a
    // grouped conv) and frozen ones with the reason, so a user sees why a block does not shrink.
    json groups = json::array();
    for (const auto& g : analyse_channels(f.original).groups) {
      json jg = {{"channels", g.channels}, {"unit", g.unit}};
      if (g.frozen) jg["frozen"] = g.why_frozen;
      groups.push_back(jg);
    }
    jb["channel_groups"] = groups;
    for (size_t k = 0; k < f.descendants.size(); ++k) {
      auto ds = graph_stats(f.descendants[k].graph);
      jb["descendants"].push_back({{"sparsity", f.sparsities[k]}, {"params", ds.params}, {"macs", ds.macs}});
    }
    doc["blocks"].push_back(jb);
  }
  return doc;
}

std::string blocks_text(const json& doc) {
  std::string o = fmt::format("{}: {} blocks, {} params, {} MACs; frame: {} nodes\n", doc["model"].get<std::string>(),
                              doc["blocks"].size(), doc["params"].get<int64_t>(), doc["macs"].get<int64_t>(),
                              doc["frame"].size());
  for (const auto& jb : doc["blocks"]) {
    o += fmt::format("block {}: {} .. {} ({} nodes, {} convs) entry {} {} exit {} {} params {} MACs {}\n",
                     jb["id"].get<int>(), jb["nodes"].front().get<std::string>(), jb["exit"].get<std::string>(),
                     jb["nodes"].size(), jb["convs"].get<int>(), jb["entry"].get<std::string>(),
                     shape_string(jb["entry_shape"].get<Shape>()), jb["exit"].get<std::string>(),
                     shape_string(jb["exit_shape"].get<Shape>()), jb["params"].get<int64_t>(), jb["macs"].get<int64_t>());
    int prunable = 0;
    std::string frozen;
    for (const auto& g : jb["channel_groups"]) {
      if (!g.contains("frozen")) {
        ++prunable;
        continue;
      }
      const auto why = g["frozen"].get<std::string>();
      if (why != "block input" && why != "block output")
        frozen += fmt::format("\n      frozen: {} channels, {}", g["channels"].get<int64_t>(), why);
    }
    o += fmt::format("    channel groups: {} prunable of {}{}\n", prunable, jb["channel_groups"].size(), frozen);
    for (const auto& d : jb["descendants"])
      o += fmt::format("    sparsity {:.2f}: params {:>9}  MACs {:>11}\n", d["sparsity"].get<double>(),
                       d["params"].get<int64_t>(), d["macs"].get<int64_t>());
  }
  return o;
}

}  // namespace legodnn
