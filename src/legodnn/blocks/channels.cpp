#include "legodnn/blocks/channels.h"

#include <numeric>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

// Union-find over channel "spaces": a space is the channel set a producer (conv, linear, input)
// creates; couplings (add, depthwise conv, ...) merge spaces.
struct Spaces {
  std::vector<int> parent;
  std::vector<int64_t> size;
  std::vector<int64_t> unit;
  std::vector<std::string> frozen;
  std::vector<std::vector<std::string>> producers;

  int make(int64_t channels) {
    parent.push_back(static_cast<int>(parent.size()));
    size.push_back(channels);
    unit.push_back(1);
    frozen.emplace_back();
    producers.emplace_back();
    return parent.back();
  }
  int find(int s) {
    while (parent[s] != s) s = parent[s] = parent[parent[s]];
    return s;
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    parent[b] = a;
    if (frozen[a].empty()) frozen[a] = frozen[b];
    set_unit(a, unit[b], "channel runs of " + std::to_string(unit[a]) + " and " + std::to_string(unit[b]));
    producers[a].insert(producers[a].end(), producers[b].begin(), producers[b].end());
  }
  void freeze(int s, const std::string& why) {
    s = find(s);
    if (frozen[s].empty()) frozen[s] = why;
  }
  // Runs of the space become the least common multiple of its runs and `u`; a space they do not
  // divide is frozen.
  void set_unit(int s, int64_t u, const std::string& why) {
    s = find(s);
    unit[s] = std::lcm(unit[s], u);
    if (size[s] % unit[s] != 0) {
      freeze(s, why + " do not divide " + std::to_string(size[s]) + " channels");
      unit[s] = 1;
    }
  }
};

using Layout = ChannelLayout;

bool same_boundaries(const Layout& a, const Layout& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].offset != b[k].offset || a[k].count != b[k].count || a[k].repeat != b[k].repeat) return false;
  return true;
}

// The coupling operations offered to the op entries' channel rules, for one node at a time.
class Coupling final : public ChannelCoupling {
 public:
  Coupling(const Graph& g, const std::vector<Shape>& shapes, const std::vector<Layout>& lay, Spaces& sp)
      : g_(g), shapes_(shapes), lay_(lay), sp_(sp) {}
  void at(size_t k) {
    k_ = k;
    n_ = &g_.nodes()[k];
    in_.clear();
    for (const auto& name : n_->inputs) in_.push_back(g_.index(name));
  }

  const Layout& input(size_t j) const override { return lay_[in_.at(j)]; }
  const Shape& input_shape(size_t j) const override { return shapes_[in_.at(j)]; }
  const Shape& output_shape() const override { return shapes_[k_]; }
  Layout fresh(int64_t channels, bool produced) override {
    int s = sp_.make(channels);
    if (produced) sp_.producers[s].push_back(n_->name);
    return Layout{{s, 0, channels, 1}};
  }
  void add_producer(const Layout& l) override {
    for (const auto& s : l) sp_.producers[sp_.find(s.group)].push_back(n_->name);
  }
  // Channel by channel; where the segments do not line up, both sides are frozen.
  void couple(const Layout& a, const Layout& b) override {
    if (same_boundaries(a, b)) {
      for (size_t k = 0; k < a.size(); ++k) sp_.unite(a[k].group, b[k].group);
      return;
    }
    for (const auto& s : a) sp_.freeze(s.group, "unaligned coupling at " + n_->name);
    for (const auto& s : b) sp_.freeze(s.group, "unaligned coupling at " + n_->name);
  }
  void freeze(const Layout& l, const std::string& why) override {
    for (const auto& s : l) sp_.freeze(s.group, why);
  }
  void require_unit(const Layout& l, int64_t unit, const std::string& why) override {
    bool aligned = unit >= 1;
    for (const auto& s : l) aligned = aligned && s.repeat == 1 && s.offset % unit == 0 && s.count % unit == 0;
    for (const auto& s : l) {
      if (aligned) sp_.set_unit(s.group, unit, why + ": groups of " + std::to_string(unit) + " channels");
      else sp_.freeze(s.group, why + ": its groups of " + std::to_string(unit) + " channels straddle the input's parts");
    }
  }

 private:
  const Graph& g_;
  const std::vector<Shape>& shapes_;
  const std::vector<Layout>& lay_;
  Spaces& sp_;
  size_t k_ = 0;
  const Node* n_ = nullptr;
  std::vector<int> in_;
};

}  // namespace

int ChannelAnalysis::prunable() const {
  int n = 0;
  for (const auto& g : groups) n += !g.frozen;
  return n;
}

ChannelAnalysis analyse_channels(const Graph& g) {
  auto shapes = g.infer_shapes();
  Spaces sp;
  std::vector<Layout> lay(g.size());
  const int out_idx = g.index(g.output());
  Coupling c(g, shapes, lay, sp);
  for (size_t k = 0; k < g.size(); ++k) {
    c.at(k);
    const Node& n = g.nodes()[k];
    lay[k] = op_info(n.op).channels(n, c);
  }
  for (const auto& s : lay[out_idx]) sp.freeze(s.group, "block output");

  // Number the groups (roots) in order of first appearance.
  ChannelAnalysis out;
  std::vector<int> id(sp.parent.size(), -1);
  for (size_t s = 0; s < sp.parent.size(); ++s) {
    int r = sp.find(static_cast<int>(s));
    if (id[r] >= 0) continue;
    id[r] = static_cast<int>(out.groups.size());
    ChannelGroup cg;
    cg.id = id[r];
    cg.channels = sp.size[r];
    cg.unit = sp.unit[r];
    cg.frozen = !sp.frozen[r].empty();
    cg.why_frozen = sp.frozen[r];
    cg.producers = sp.producers[r];
    out.groups.push_back(std::move(cg));
  }
  out.layout.resize(g.size());
  for (size_t k = 0; k < g.size(); ++k)
    for (auto s : lay[k]) {
      s.group = id[sp.find(s.group)];
      out.layout[k].push_back(s);
    }
  return out;
}

}  // namespace legodnn
