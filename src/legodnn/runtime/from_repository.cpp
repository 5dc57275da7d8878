#include "legodnn/runtime/from_repository.h"

#include "legodnn/blocks/detect.h"
#include "legodnn/util/error.h"

namespace legodnn {

ModelChoiceSpec choice_spec(const Manifest& m, const std::string& source) {
  if (!m.stages.contains("profile"))
    throw OptionError(source + ": the repository has not been profiled yet (rerun legodnn build)");
  ModelChoiceSpec s;
  s.name = m.model;
  s.accuracy = teacher_test_accuracy(m, source);
  s.frame_ms = frame_latency_ms(m, source);
  // Frame bytes: the teacher's tensors minus those of its original blocks.
  double total = static_cast<double>(graph_stats(m.teacher).bytes);
  for (const auto& b : m.blocks) total -= static_cast<double>(b.descendants.at(0).profile.bytes);
  s.frame_bytes = std::max(0.0, total);
  for (const auto& b : m.blocks) {
    std::vector<OptionCost> opts;
    for (const auto& d : b.descendants)
      opts.push_back({d.profile.acc_drop, d.profile.latency_ms, static_cast<double>(d.profile.bytes)});
    s.blocks.push_back(std::move(opts));
  }
  return s;
}

}  // namespace legodnn
