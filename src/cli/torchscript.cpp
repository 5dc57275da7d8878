// legodnn import: a TorchScript model (torch.jit.trace or torch.jit.script, saved with
// torch.jit.save) as a model folder every other command takes (--checkpoint, --teacher).
// legodnn export: a teacher or one composition of a repository as a TorchScript file (or in the
// lite-interpreter format) that PyTorch and PyTorch Mobile run without this project.
#include <cstdio>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "legodnn/graph/export_torchscript.h"
#include "legodnn/graph/import_torchscript.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/repository/repository.h"
#include "legodnn/repository/selection.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn::cli {

Command add_import(CLI::App& app) {
  struct Args {
    std::string file, input_shape, out, name;
    Common common;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("import", "a TorchScript model (.pt from torch.jit.trace/script) as a model folder");
  c->add_option("model", a->file, "TorchScript file")->required();
  c->add_option("--input-shape", a->input_shape, "per-sample input shape C,H,W (for example 3,224,224)")->required();
  c->add_option("--out", a->out, "output model folder")->required();
  c->add_option("--name", a->name, "model name recorded in the folder (default: the file's stem)");
  add_common(c, a->common, "1", false);
  return {c, [a] {
            apply_threads(a->common, 1);
            std::vector<int64_t> shape;
            for (double d : parse_numbers(a->input_shape, "--input-shape")) {
              if (d != static_cast<double>(static_cast<int64_t>(d)) || d < 1)
                throw OptionError("--input-shape: sizes must be positive integers, got '" + a->input_shape + "'");
              shape.push_back(static_cast<int64_t>(d));
            }
            std::string name = a->name.empty() ? std::filesystem::path(a->file).stem().string() : a->name;
            if (name.empty()) throw OptionError("--name: give a model name");
            ensure_writable_dir(a->out);
            ImportReport r;
            Model m = import_torchscript(a->file, shape, &r);
            nlohmann::json meta = {{"model", name},
                                   {"imported_from", std::filesystem::path(a->file).filename().string()},
                                   {"input_shape", shape},
                                   {"command", invocation()}};
            save_model(a->out, m, meta);
            std::fputs(stats_line(name, m.graph).c_str(), stdout);
            std::printf("imported %d TorchScript ops as IR nodes (%d folded away) in %.2f s -> %s\n", r.aten_nodes,
                        r.folded, r.seconds, a->out.c_str());
            return 0;
          }};
}

Command add_export(CLI::App& app) {
  struct Args {
    std::string checkpoint, repo, select, out;
    bool mobile = false;
    Common common;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("export", "a teacher or a composition as TorchScript (torch.jit.load, PyTorch Mobile)");
  auto* ckpt = c->add_option("--checkpoint", a->checkpoint, "model folder (the whole model)");
  c->add_option("--repo", a->repo, "block repository (with --select)")->excludes(ckpt);
  c->add_option("--select", a->select, "sparsity per block, e.g. 0.2,0.8,... (one value: every block)");
  c->add_option("--out", a->out, "TorchScript file to write (.pt; .ptl for --mobile by convention)")->required();
  c->add_flag("--mobile", a->mobile, "the lite-interpreter format (torch.jit.mobile._load_for_lite_interpreter)");
  add_common(c, a->common, "1", false);
  return {c, [a] {
            apply_threads(a->common, 1);
            Model m;
            nlohmann::json meta = {{"command", invocation()}};
            if (!a->repo.empty()) {
              if (a->select.empty()) throw OptionError("export --repo needs --select S1,S2,... (one sparsity per block)");
              Repository repo = Repository::open(a->repo);
              const Manifest& man = repo.manifest();
              std::vector<double> sparsities = parse_numbers(a->select, "--select");
              std::vector<int> choice = selection_for_sparsities(man, sparsities, "--select");
              m = repo.compose(choice);
              std::vector<double> chosen;
              for (size_t b = 0; b < choice.size(); ++b) chosen.push_back(man.blocks[b].descendants[choice[b]].sparsity);
              meta["model"] = man.model;
              meta["repository"] = std::filesystem::path(a->repo).filename().string();
              meta["sparsities"] = chosen;
            } else {
              if (a->checkpoint.empty()) throw OptionError("export needs --checkpoint DIR or --repo DIR --select ...");
              if (!a->select.empty()) throw OptionError("--select goes with --repo, not --checkpoint");
              std::string name;
              m = load_teacher(a->checkpoint, "", name);
              meta["model"] = name;
            }
            meta["input_shape"] = m.graph.node(m.graph.input()).ints("shape");
            const auto parent = std::filesystem::path(a->out).parent_path();
            ensure_writable_dir(parent.empty() ? std::string(".") : parent.string());
            ExportOptions o;
            o.mobile = a->mobile;
            o.meta_json = meta.dump(1);
            ExportReport r = export_torchscript(m, a->out, o);
            std::fputs(stats_line(meta["model"].get<std::string>(), m.graph).c_str(), stdout);
            std::printf("exported %d nodes as %s TorchScript (%.1f KB) in %.2f s -> %s; reloaded: max |difference| %.2e "
                        "(output scale %.3g)\n",
                        r.nodes, a->mobile ? "lite-interpreter" : "full", r.bytes / 1024.0, r.seconds, a->out.c_str(),
                        r.max_abs_diff, r.output_scale);
            return 0;
          }};
}

}  // namespace legodnn::cli
