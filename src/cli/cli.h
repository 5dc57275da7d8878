#pragma once
// The command-line program's pieces: one function per subcommand (each in its own file) that
// declares the subcommand's options and returns what runs it, and the option helpers they share.
// Domain logic lives in the library; these files parse, call and print.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace legodnn {
struct Model;
struct ZooOptions;
class Graph;
struct Manifest;
struct DataSource;
}  // namespace legodnn

namespace legodnn::cli {

/// A declared subcommand and what runs it once parsed (returns the exit code).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_info(CLI::App& app);
Command add_blocks(CLI::App& app);
Command add_build(CLI::App& app);
Command add_calibrate(CLI::App& app);
Command add_baseline(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_select(CLI::App& app);
Command add_run(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_import(CLI::App& app);
Command add_export(CLI::App& app);

/// The options every command that computes takes. threads 0 = the command's default.
struct Common {
  int threads = 0;
  std::string data;
};
/// Adds --threads (checked: 1 .. 4 x cores) and, when `with_data`, --data to `app`.
void add_common(CLI::App* app, Common& c, const std::string& threads_default, bool with_data = true);
/// Sets torch's intra-op threads to c.threads, or to `fallback` when --threads was not given.
void apply_threads(const Common& c, int fallback);
/// Torch's intra-op threads now.
int at_threads();
/// The number of cores (at least 1).
int cores();

/// The command line as typed, recorded in the files a command writes (set by main).
void set_invocation(int argc, char** argv);
const std::string& invocation();

/// Comma-separated items; throws OptionError naming the option for an empty item.
std::vector<std::string> split_list(const std::string& text, const std::string& option);
/// "a:b,c:d" -> pairs; throws OptionError naming the bad item.
std::vector<std::pair<std::string, std::string>> parse_block_pairs(const std::string& text);
/// "0.2,0.8" -> {0.2, 0.8}; throws OptionError naming the bad item (not a number, NaN).
std::vector<double> parse_numbers(const std::string& text, const std::string& option);
/// Checks a list of sparsities: each in [0, 1), increasing, and (when `first_zero`) starting at 0,
/// the original block every repository and model-grained set holds. Throws OptionError naming the option.
void check_sparsities(const std::vector<double>& s, const std::string& option, bool first_zero);
/// Checks a budget: positive and not NaN; "inf" (no budget) allowed. Throws OptionError naming the option.
void check_budget(double v, const std::string& option);

/// The model a command works on: a trained model folder, or a zoo model with seeded random weights.
/// `name` (when given) must match the folder's model name.
Model model_for(const std::string& checkpoint, const std::string& name, const ZooOptions& zoo, uint64_t seed);
/// Loads a trained model folder; `expected` (when given) must match the model name it records,
/// which is returned in `name`.
Model load_teacher(const std::string& dir, const std::string& expected, std::string& name);
/// --data as a model reads it (its input shape and classes from its graph or its repository's
/// manifest), for load_data / load_test_data (data/data_source.h).
DataSource data_for(const Common& c, const Graph& g);
DataSource data_for(const Common& c, const Manifest& m);
/// One line of nodes, convs, params, MACs and bytes.
std::string stats_line(const std::string& name, const Graph& g);

}  // namespace legodnn::cli
