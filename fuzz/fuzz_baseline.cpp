// Fuzz target: a model-grained baseline's baseline.json (parse_model_grained).
#include "fuzz_common.h"
#include "legodnn/baseline/model_grained_manifest.h"
#include "legodnn/report/tables.h"

using namespace legodnn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  if (!fuzz::parse_input(data, size, "baseline.json", j)) return 0;
  try {
    const ModelGrainedManifest m = parse_model_grained(j, "baseline.json");
    (void)baseline_table(m);
    (void)model_grained_to_json(m).dump();
  } catch (const Error&) {
  }
  return 0;
}
