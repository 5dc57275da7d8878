// Fuzz target: a block repository's manifest.json (parse_manifest), and what the commands do with
// a manifest once it is accepted: the optimizer's costs (choice_spec), the additive estimate and
// the inspect tables.
#include "fuzz_common.h"
#include "legodnn/report/tables.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/repository/selection.h"
#include "legodnn/runtime/from_repository.h"

using namespace legodnn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  if (!fuzz::parse_input(data, size, "manifest.json", j)) return 0;
  try {
    const Manifest m = parse_manifest(j, "manifest.json");
    (void)inspect_text("repo", m);
    (void)inspect_csv(m);
    (void)manifest_to_json(m).dump();
    const std::vector<int> sel = uniform_selection(m, 0.5);
    (void)selection_sparsities(m, sel);
    if (m.profile.contains("teacher_test_accuracy")) (void)additive_estimate(m, sel, "manifest.json");
    if (m.stages.contains("profile")) (void)choice_spec(m, "manifest.json");
  } catch (const Error&) {
  }
  return 0;
}
