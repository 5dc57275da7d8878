// The model-grained baseline as the scenario runner sees it (runner.h): its whole-model server
// is the Servable.
#include "legodnn/baseline/model_grained.h"
#include "legodnn/scenario/runner.h"

namespace legodnn {

ModelSystem model_grained_system(const std::string& dir, int warm_up_forwards) {
  ModelGrainedSet set = ModelGrainedSet::open(dir);
  ModelSystem s;
  s.spec = set.spec();
  std::vector<double> sp;
  for (const auto& v : set.manifest().variants) sp.push_back(v.sparsity);
  s.sparsity.push_back(sp);
  s.open = [dir, warm_up_forwards](const std::vector<int>& selection) -> std::unique_ptr<Servable> {
    return std::make_unique<WholeModelServer>(WholeModelServer::open(dir, selection.at(0), warm_up_forwards));
  };
  return s;
}

}  // namespace legodnn
