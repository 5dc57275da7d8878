#include <cmath>
#include <cstdio>
#include <thread>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "legodnn/data/data_source.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/graph/weights.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"

namespace legodnn::cli {
namespace {
std::string g_invocation = "legodnn";
}

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void add_common(CLI::App* app, Common& c, const std::string& threads_default, bool with_data) {
  // More threads than a few per core only slows torch down; 100000 would start that many.
  app->add_option("--threads", c.threads, "torch intra-op threads (default: " + threads_default + ")")
      ->check(CLI::Range(1, 4 * cores()));
  if (with_data) {
    c.data = default_fashion_mnist_root();
    app->add_option("--data", c.data,
                    "Fashion-MNIST folder (IDX .gz files), or an image folder: one subfolder per class of "
                    "PNG/JPEG/BMP files (or train/ and test/ holding them), resized to the model's input");
  }
}

DataSource data_for(const Common& c, const Graph& g) {
  const Shape out = g.infer_shapes()[g.index(g.output())];
  return {c.data, g.node(g.input()).ints("shape"), out.size() == 1 ? out[0] : 0};
}

DataSource data_for(const Common& c, const Manifest& m) { return {c.data, m.input_shape, m.classes}; }

int at_threads() { return at::get_num_threads(); }

void apply_threads(const Common& c, int fallback) { at::set_num_threads(c.threads > 0 ? c.threads : fallback); }

void set_invocation(int argc, char** argv) {
  g_invocation = "legodnn";
  for (int i = 1; i < argc; ++i) g_invocation += std::string(" ") + argv[i];
}
const std::string& invocation() { return g_invocation; }

std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(',', start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (out.back().empty()) throw OptionError(option + ": empty item in '" + text + "'");
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::vector<std::pair<std::string, std::string>> parse_block_pairs(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : split_list(text, "--blocks")) {
    size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      throw OptionError("--blocks: '" + item + "' is not of the form first:last");
    out.emplace_back(item.substr(0, colon), item.substr(colon + 1));
  }
  return out;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& option) {
  std::vector<double> out;
  for (const auto& item : split_list(text, option)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;  // std::stod throws invalid_argument / out_of_range: not a number we take
    }
    if (used != item.size() || std::isnan(v)) throw OptionError(option + ": '" + item + "' is not a number");
    out.push_back(v);
  }
  return out;
}

void check_sparsities(const std::vector<double>& s, const std::string& option, bool first_zero) {
  if (s.empty()) throw OptionError(option + ": no sparsities given");
  if (first_zero && s[0] != 0)
    throw OptionError(option + ": the first sparsity must be 0 (the original block), got " + std::to_string(s[0]));
  for (size_t k = 0; k < s.size(); ++k) {
    if (!(s[k] >= 0 && s[k] < 1))
      throw OptionError(option + ": sparsity " + std::to_string(s[k]) + " is outside [0, 1)");
    if (k > 0 && !(s[k] > s[k - 1]))
      throw OptionError(option + ": sparsities must increase, got " + std::to_string(s[k - 1]) + " then " +
                        std::to_string(s[k]));
  }
}

void check_budget(double v, const std::string& option) {
  if (std::isnan(v) || !(v > 0)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", v);
    throw OptionError(option + ": must be a positive number (or inf for no budget), got " + got);
  }
}

Model model_for(const std::string& checkpoint, const std::string& name, const ZooOptions& zoo, uint64_t seed) {
  if (!checkpoint.empty()) {
    std::string found;
    return load_teacher(checkpoint, name, found);
  }
  if (name.empty()) throw OptionError("give --model or --checkpoint");
  Model m;
  m.graph = build_zoo_model(name, zoo);
  m.weights = init_weights(m.graph, seed);
  return m;
}

Model load_teacher(const std::string& dir, const std::string& expected, std::string& name) {
  nlohmann::json meta;
  Model m = load_model(dir, &meta);
  name = meta.value("model", expected);
  if (!expected.empty() && name != expected)
    throw OptionError(dir + ": holds model '" + name + "', not '" + expected + "'");
  return m;
}

std::string stats_line(const std::string& name, const Graph& g) {
  auto st = graph_stats(g);
  char line[256];
  std::snprintf(line, sizeof line, "%-12s nodes %4zu  convs %3lld  params %9lld  MACs %11lld  bytes %10lld\n",
                name.c_str(), g.size(), (long long)st.convs, (long long)st.params, (long long)st.macs,
                (long long)st.bytes);
  return line;
}

}  // namespace legodnn::cli
