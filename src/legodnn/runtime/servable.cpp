#include "legodnn/runtime/servable.h"

#include <chrono>

#include <ATen/ATen.h>

#include "legodnn/util/error.h"

namespace legodnn {

double ServingState::warm_up(const std::vector<int64_t>& input_shape, int forwards) const {
  if (forwards <= 0) return 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  const at::Tensor x = at::zeros(shape);
  for (int i = 0; i < forwards; ++i) forward(x);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void ServingState::check_warm_up(int forwards) {
  if (forwards < 0 || forwards > 100)
    throw OptionError("warm-up forwards must be within 0..100, got " + std::to_string(forwards));
}

}  // namespace legodnn
