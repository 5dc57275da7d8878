// The model-grained baseline as the scenario runner sees it (runner.h).
#include "legodnn/baseline/model_grained.h"
#include "legodnn/scenario/runner.h"

namespace legodnn {
namespace {

class WholeServed : public ServedModel {
 public:
  explicit WholeServed(WholeModelServer s) : s_(std::move(s)) {}
  at::Tensor forward(const at::Tensor& x, std::vector<int>* ran_with) const override {
    // The server has no snapshot: the selection read just before the forward is the one that ran
    // unless a switch committed in between (then one latency reading is credited to the old model).
    if (ran_with) *ran_with = s_.selection();
    return s_.forward(x);
  }
  SwitchReport switch_to(const std::vector<int>& selection) override { return s_.switch_to(selection); }
  MemoryUse memory() const override { return s_.memory(); }
  void set_cache_limit(int64_t) override {}  // a model-grained system holds only the active model

 private:
  WholeModelServer s_;
};

}  // namespace

ModelSystem model_grained_system(const std::string& dir) {
  ModelGrainedSet set = ModelGrainedSet::open(dir);
  ModelSystem s;
  s.spec = set.spec();
  std::vector<double> sp;
  for (const auto& v : set.manifest().variants) sp.push_back(v.sparsity);
  s.sparsity.push_back(sp);
  s.open = [dir](const std::vector<int>& selection) -> std::unique_ptr<ServedModel> {
    return std::make_unique<WholeServed>(WholeModelServer::open(dir, selection.at(0)));
  };
  return s;
}

}  // namespace legodnn
