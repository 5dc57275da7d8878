#pragma once
// The main job behind `./run.sh demo`: the shipped teachers, their block repositories and
// model-grained baselines (quick settings, built once and reused), then the default scenario run
// with LegoDNN and with the baseline, compared.
#include <string>

namespace legodnn {

struct DemoOptions {
  std::string teachers = "teachers";  ///< folder of shipped teachers (resnet20, vgg11_bn, mobilenetv2)
  std::string out = "out/demo";       ///< repositories, baselines, scenario, CSVs and plots
  std::string data;                   ///< Fashion-MNIST folder (empty: the default)
  double duration_s = 40;             ///< length of the default scenario, per system
  int threads = 1;                    ///< torch threads for building and per serving model
};

/// Runs the demo, printing progress and the comparison. Throws on errors.
void run_demo(const DemoOptions& o);

}  // namespace legodnn
