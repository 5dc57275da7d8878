// Fuzz target: a model folder's model.json (model_graph_from_json, the graph and its validation)
// and what `legodnn blocks` does with an accepted graph: shapes, statistics, block detection.
#include "fuzz_common.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/graph/graph_json.h"

using namespace legodnn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  if (!fuzz::parse_input(data, size, "model.json", j)) return 0;
  try {
    // A bare graph document is also what the graph loader reads.
    const Graph g = j.is_object() && j.contains("graph") ? model_graph_from_json(j, "model.json")
                                                          : graph_from_json(j, "model.json");
    (void)g.infer_shapes();
    (void)graph_stats(g);
    (void)graph_to_json(g).dump();
    for (const auto& b : detect_blocks(g)) (void)block_graph(g, b);
  } catch (const Error&) {
  }
  return 0;
}
