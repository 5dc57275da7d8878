#include "legodnn/repository/selection.h"

#include <algorithm>
#include <cmath>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

void check_selection(const Manifest& m, const std::vector<int>& selection) {
  if (selection.size() != m.blocks.size())
    throw OptionError("selection of " + std::to_string(selection.size()) + " blocks for a repository of " +
                      std::to_string(m.blocks.size()));
  for (size_t b = 0; b < selection.size(); ++b)
    if (selection[b] < 0 || selection[b] >= static_cast<int>(m.blocks[b].descendants.size()))
      throw OptionError("selection: block " + std::to_string(b) + " has no descendant " + std::to_string(selection[b]));
}

}  // namespace

std::vector<int> selection_for_sparsities(const Manifest& m, std::vector<double> sparsities,
                                          const std::string& option) {
  if (sparsities.size() == 1) sparsities.assign(m.blocks.size(), sparsities[0]);
  if (sparsities.size() != m.blocks.size())
    throw OptionError(option + ": " + std::to_string(sparsities.size()) + " sparsities for " +
                      std::to_string(m.blocks.size()) + " blocks");
  std::vector<int> choice;
  for (size_t b = 0; b < sparsities.size(); ++b) {
    const auto& ds = m.blocks[b].descendants;
    int found = -1;
    for (size_t j = 0; j < ds.size() && found < 0; ++j)
      if (std::abs(ds[j].sparsity - sparsities[b]) < 1e-9) found = static_cast<int>(j);
    if (found < 0)
      throw OptionError(option + ": block " + std::to_string(b) + " has no descendant of sparsity " +
                        std::to_string(sparsities[b]));
    choice.push_back(found);
  }
  return choice;
}

int nearest_descendant(const Manifest& m, size_t block, double sparsity) {
  const auto& d = m.blocks.at(block).descendants;
  int best = 0;
  for (size_t j = 1; j < d.size(); ++j)
    if (std::abs(d[j].sparsity - sparsity) < std::abs(d[best].sparsity - sparsity)) best = static_cast<int>(j);
  return best;
}

std::vector<int> uniform_selection(const Manifest& m, double sparsity) {
  std::vector<int> sel;
  for (size_t b = 0; b < m.blocks.size(); ++b) sel.push_back(nearest_descendant(m, b, sparsity));
  return sel;
}

std::vector<double> selection_sparsities(const Manifest& m, const std::vector<int>& selection) {
  check_selection(m, selection);
  std::vector<double> out;
  for (size_t b = 0; b < selection.size(); ++b) out.push_back(m.blocks[b].descendants[selection[b]].sparsity);
  return out;
}

double additive_estimate(const Manifest& m, const std::vector<int>& selection, const std::string& source) {
  check_selection(m, selection);
  double est = teacher_test_accuracy(m, source);
  for (size_t b = 0; b < selection.size(); ++b) est -= m.blocks[b].descendants[selection[b]].profile.acc_drop;
  // Summed drops can exceed the teacher's accuracy on a heavily pruned composition; no accuracy
  // is below 0.
  return std::max(0.0, est);
}

}  // namespace legodnn
