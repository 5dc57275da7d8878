#include "legodnn/runtime/miss_rate.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "legodnn/util/error.h"

namespace legodnn {

MissRateController::MissRateController(MissRateOptions o) : o_(o), planning_(o.prior_ratio) {
  auto bad = [](const std::string& field, double v) {
    throw OptionError("miss-rate controller: " + field + " is out of range: " + std::to_string(v));
  };
  if (!(o_.target > 0 && o_.target < 0.5)) bad("target", o_.target);
  if (o_.window < 1) bad("window", o_.window);
  if (o_.min_samples < 1) bad("min_samples", o_.min_samples);
  if (!(o_.prior_ratio > 0) || !std::isfinite(o_.prior_ratio)) bad("prior_ratio", o_.prior_ratio);
  if (!(o_.gain >= 0) || !std::isfinite(o_.gain)) bad("gain", o_.gain);
  if (!(o_.max_step > 0)) bad("max_step", o_.max_step);
  if (!(o_.min_feedback > 0 && o_.min_feedback <= 1 && o_.max_feedback >= 1)) bad("min_feedback/max_feedback", o_.min_feedback);
  ring_.reserve(static_cast<size_t>(o_.window));
}

void MissRateController::observe(double ratio, bool missed) {
  ++inferences_;
  misses_ += missed;
  // While the plan is the prior, there is no quantile for the feedback to correct: not counted.
  if (planned_from_quantile_) ++period_inferences_;
  if (!std::isfinite(ratio) || ratio <= 0) return;
  const bool exceeded = ratio > planning_;
  exceedances_ += exceeded;
  if (planned_from_quantile_) period_exceedances_ += exceeded;
  if (ring_.size() < static_cast<size_t>(o_.window)) {
    ring_.push_back(ratio);
  } else {
    ring_[next_] = ratio;
    next_ = (next_ + 1) % ring_.size();
  }
}

void MissRateController::update() {
  planned_from_quantile_ = planned_from_quantile_ || ring_.size() >= static_cast<size_t>(o_.min_samples);
  if (period_inferences_ == 0) {
    planning_ = quantile_ratio() * feedback_;
    return;
  }
  const double expected = o_.target * static_cast<double>(period_inferences_);
  double step = o_.gain * (static_cast<double>(period_exceedances_) - expected) / std::max(expected, 1.0);
  step = std::clamp(step, -o_.max_step, o_.max_step);
  feedback_ = std::clamp(feedback_ * std::exp(step), o_.min_feedback, o_.max_feedback);
  period_inferences_ = period_exceedances_ = 0;
  planning_ = quantile_ratio() * feedback_;
}

void MissRateController::refresh() {
  planned_from_quantile_ = planned_from_quantile_ || ring_.size() >= static_cast<size_t>(o_.min_samples);
  if (planned_from_quantile_) planning_ = quantile_ratio() * feedback_;
}

double MissRateController::quantile_ratio() const {
  if (ring_.size() < static_cast<size_t>(o_.min_samples)) return o_.prior_ratio;
  std::vector<double> v = ring_;
  // The smallest ratio that at least (1 - target) of the recent ratios do not exceed.
  size_t k = static_cast<size_t>(std::ceil((1 - o_.target) * static_cast<double>(v.size())));
  k = std::clamp<size_t>(k, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace legodnn
