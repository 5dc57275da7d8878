#include "legodnn/runtime/latency_estimator.h"

#include <cmath>
#include <string>

#include "legodnn/util/error.h"

namespace legodnn {

LatencyEstimator::LatencyEstimator(ModelChoiceSpec profiled, double alpha) : spec_(std::move(profiled)), alpha_(alpha) {
  if (!(alpha > 0 && alpha <= 1)) throw OptionError("latency estimator: alpha must be in (0, 1], got " + std::to_string(alpha));
}

double LatencyEstimator::profiled_ms(const std::vector<int>& choice) const {
  if (choice.size() != spec_.blocks.size())
    throw OptionError("model '" + spec_.name + "': a choice needs " + std::to_string(spec_.blocks.size()) +
                      " options, got " + std::to_string(choice.size()));
  double t = spec_.frame_ms;
  for (size_t i = 0; i < choice.size(); ++i) {
    if (choice[i] < 0 || choice[i] >= static_cast<int>(spec_.blocks[i].size()))
      throw OptionError("model '" + spec_.name + "': block " + std::to_string(i) + " has no option " +
                        std::to_string(choice[i]));
    t += spec_.blocks[i][choice[i]].latency_ms;
  }
  return t;
}

double LatencyEstimator::estimate_ms(const std::vector<int>& choice) const { return ratio_ * profiled_ms(choice); }

void LatencyEstimator::observe(const std::vector<int>& choice, double measured_ms) {
  double profiled = profiled_ms(choice);
  if (!std::isfinite(measured_ms) || measured_ms <= 0 || !(profiled > 0)) {
    ++ignored_;
    return;
  }
  double r = measured_ms / profiled;
  // The first reading replaces the prior outright; later ones are smoothed.
  ratio_ = used_ == 0 ? r : (1 - alpha_) * ratio_ + alpha_ * r;
  ++used_;
}

ModelChoiceSpec LatencyEstimator::calibrated() const { return with_latency_scale(spec_, ratio_); }

ModelChoiceSpec with_latency_scale(ModelChoiceSpec s, double factor) {
  s.frame_ms *= factor;
  for (auto& b : s.blocks)
    for (auto& o : b) o.latency_ms *= factor;
  return s;
}

}  // namespace legodnn
