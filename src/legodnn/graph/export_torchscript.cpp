#include "legodnn/graph/export_torchscript.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/mobile/import.h>
#include <torch/csrc/jit/mobile/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/ops/kernel.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

// `text` (a node name from an input file) as a Python identifier: letters, digits and '_' kept,
// anything else '_', a leading digit prefixed. Used for attribute names and, so that nothing from
// a name can end a comment and become code, for the comments that name each statement's node.
std::string identifier(const std::string& text) {
  std::string out;
  for (char ch : text) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
    out += ok ? ch : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out = "_" + out;
  return out;
}

struct Program {
  std::string source;
  struct Tensor {
    std::string name;
    at::Tensor value;
    bool parameter;  // trainable (weight, bias), else a buffer (running statistics)
  };
  std::vector<Tensor> tensors;
};

Program program(const Model& m) {
  const Graph& g = m.graph;
  g.validate();
  check_weights(g, m.weights);
  Program p;
  std::set<std::string> taken = {"training", "forward"};
  std::vector<std::string> var(g.size());
  std::string& src = p.source;
  src = "def forward(self, x: Tensor) -> Tensor:\n";
  for (size_t k = 0; k < g.size(); ++k) {
    const Node& n = g.nodes()[k];
    KernelStep s;
    const OpKernel& kernel = op_kernel(n.op);
    kernel.prepare(n, m.weights, s);
    ScriptOperands o;
    o.input = "x";
    for (const auto& in : n.inputs) o.in.push_back(var[g.index(in)]);
    for (auto& t : o.tensors) t = "None";
    for (const ParamSpec& spec : param_specs(n)) {
      const at::Tensor& value = m.weights.at(param_key(n.name, spec.name));
      for (size_t slot = 0; slot < s.tensors.size(); ++slot) {
        if (!s.tensors[slot].defined() || !s.tensors[slot].is_same(value)) continue;
        std::string name = identifier(n.name + "_" + spec.name);
        for (int suffix = 2; taken.count(name); ++suffix) name = identifier(n.name + "_" + spec.name) + "_" + std::to_string(suffix);
        taken.insert(name);
        p.tensors.push_back({name, value.detach(), spec.trainable});
        o.tensors[slot] = "self." + name;
      }
    }
    for (size_t slot = 0; slot < s.tensors.size(); ++slot)
      if (s.tensors[slot].defined() && o.tensors[slot] == "None")
        throw GraphError("node '" + n.name + "': a tensor of its kernel is not one of the node's parameters");
    var[k] = "v" + std::to_string(k);
    src += "    " + var[k] + " = " + kernel.script(s, o) + "  # " + identifier(n.name) + "\n";
  }
  src += "    return " + var[g.index(g.output())] + "\n";
  return p;
}

}  // namespace

std::string torchscript_source(const Model& m) { return program(m).source; }

ExportReport export_torchscript(const Model& m, const std::string& path, const ExportOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  Program p = program(m);
  torch::jit::Module module(c10::QualifiedName("__torch__.legodnn.ScaledModel"));
  for (const auto& t : p.tensors) {
    if (t.parameter) module.register_parameter(t.name, t.value, false);
    else module.register_buffer(t.name, t.value);
  }
  try {
    module.define(p.source);
  } catch (const c10::Error& e) {
    // A kernel wrote source TorchScript does not take: a bug here, not in the user's model.
    throw GraphError("TorchScript rejected the generated forward: " + std::string(e.what_without_backtrace()));
  }
  module.eval();
  torch::jit::ExtraFilesMap extra;
  if (!options.meta_json.empty()) extra["legodnn.json"] = options.meta_json;
  std::ostringstream bytes;
  if (options.mobile) module._save_for_mobile(bytes, extra);
  else module.save(bytes, extra);
  const std::string data = bytes.str();

  ExportReport r;
  r.nodes = static_cast<int>(m.graph.size());
  r.bytes = static_cast<int64_t>(data.size());
  if (options.verify) {
    Shape shape = m.graph.node(m.graph.input()).ints("shape");
    std::vector<int64_t> batch = {2};
    batch.insert(batch.end(), shape.begin(), shape.end());
    at::Tensor x = at::randn(batch, at::detail::createCPUGenerator(20211025));
    at::Tensor want, got;
    {
      c10::InferenceMode guard;
      want = Executor(m.graph, m.weights).forward(x);
    }
    std::istringstream in(data);
    if (options.mobile) {
      torch::jit::mobile::Module back = torch::jit::_load_for_mobile(in);
      c10::InferenceMode guard;
      got = back.forward({x}).toTensor();
    } else {
      torch::jit::Module back = torch::jit::load(in);
      c10::InferenceMode guard;
      got = back.forward({x}).toTensor();
    }
    if (got.sizes() != want.sizes())
      throw GraphError("exported module gives shape " + c10::str(got.sizes()) + ", the executor " + c10::str(want.sizes()));
    r.output_scale = want.abs().max().item<double>();
    r.max_abs_diff = (got - want).abs().max().item<double>();
    if (!(r.max_abs_diff <= 1e-5 * std::max(1.0, r.output_scale)))
      throw GraphError("exported module differs from the executor by " + std::to_string(r.max_abs_diff) +
                       " (output scale " + std::to_string(r.output_scale) + ")");
  }
  atomic_write_file(path, data);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace legodnn
