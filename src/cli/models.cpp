// legodnn info and legodnn blocks: what a model is made of, and how it is cut into blocks.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/models/zoo.h"
#include "legodnn/report/blocks.h"

namespace legodnn::cli {

Command add_info(CLI::App& app) {
  struct Args {
    std::vector<std::string> models = zoo_names();
    ZooOptions zoo;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("info", "size and cost of zoo models");
  c->add_option("--model", a->models, "zoo model names (default: all)");
  c->add_option("--width", a->zoo.width, "channel width multiplier");
  c->add_option("--stem-stride", a->zoo.stem_stride, "stride of the first conv (1 or 2)");
  c->add_option("--input-size", a->zoo.input_size, "input side");
  c->add_option("--in-channels", a->zoo.in_channels, "input channels");
  c->add_option("--classes", a->zoo.num_classes, "classes");
  return {c, [a] {
            for (const auto& name : a->models) std::fputs(stats_line(name, build_zoo_model(name, a->zoo)).c_str(), stdout);
            return 0;
          }};
}

Command add_blocks(CLI::App& app) {
  struct Args {
    std::string model, checkpoint, pairs;
    ZooOptions zoo;
    DetectOptions detect;
    std::vector<double> sparsities = default_sparsities();
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("blocks", "detect blocks and list their descendants");
  c->add_option("--model", a->model, "zoo model name (random weights unless --checkpoint)");
  c->add_option("--checkpoint", a->checkpoint, "trained model folder");
  c->add_option("--width", a->zoo.width, "width multiplier of the zoo model");
  c->add_option("--stem-stride", a->zoo.stem_stride, "stride of the zoo model's first conv");
  auto* mc = c->add_option("--max-convs", a->detect.max_convs, "at most K convs per block (default 3)");
  c->add_option("--max-ratio", a->detect.max_ratio, "max convs = max(floor(R * total convs), 2)")->excludes(mc);
  c->add_flag("--cross-stages", a->detect.cross_stages, "let blocks span resolution changes");
  c->add_option("--blocks", a->pairs, "explicit blocks first:last,first:last,...");
  c->add_option("--sparsities", a->sparsities, "descendant sparsities")->delimiter(',');
  c->add_flag("--json", a->json, "print one JSON document");
  return {c, [a] {
            check_sparsities(a->sparsities, "--sparsities", false);
            Model m = model_for(a->checkpoint, a->model, a->zoo, 0);
            auto specs = a->pairs.empty() ? detect_blocks(m.graph, a->detect)
                                          : explicit_blocks(m.graph, parse_block_pairs(a->pairs));
            auto fams = make_descendants(m, specs, a->sparsities);
            auto doc = blocks_json(m, a->model.empty() ? a->checkpoint : a->model, fams, specs);
            std::fputs(a->json ? (doc.dump(1) + "\n").c_str() : blocks_text(doc).c_str(), stdout);
            return 0;
          }};
}

}  // namespace legodnn::cli
