// Fuzz target: a scenario file (parse_scenario).
#include "fuzz_common.h"
#include "legodnn/scenario/scenario.h"

using namespace legodnn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  if (!fuzz::parse_input(data, size, "scenario.json", j)) return 0;
  try {
    const Scenario s = parse_scenario(j, "scenario.json", "base");
    for (const auto& e : s.events) (void)e.describe();
  } catch (const Error&) {
  }
  return 0;
}
