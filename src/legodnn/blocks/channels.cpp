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
  std::vector<std::string> frozen;
  std::vector<std::vector<std::string>> producers;

  int make(int64_t channels) {
    parent.push_back(static_cast<int>(parent.size()));
    size.push_back(channels);
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
    producers[a].insert(producers[a].end(), producers[b].begin(), producers[b].end());
  }
  void freeze(int s, const std::string& why) {
    s = find(s);
    if (frozen[s].empty()) frozen[s] = why;
  }
};

using Layout = std::vector<ChannelSegment>;

bool same_boundaries(const Layout& a, const Layout& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].offset != b[k].offset || a[k].count != b[k].count || a[k].repeat != b[k].repeat) return false;
  return true;
}

// Couples two layouts channel by channel; where their segments do not line up, freezes them.
void couple(Spaces& sp, const Layout& a, const Layout& b, const std::string& node) {
  if (same_boundaries(a, b)) {
    for (size_t k = 0; k < a.size(); ++k) sp.unite(a[k].group, b[k].group);
    return;
  }
  for (const auto& s : a) sp.freeze(s.group, "unaligned coupling at " + node);
  for (const auto& s : b) sp.freeze(s.group, "unaligned coupling at " + node);
}

int64_t width(const Layout& l) {
  int64_t w = 0;
  for (const auto& s : l) w += s.count * s.repeat;
  return w;
}

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
  for (size_t k = 0; k < g.size(); ++k) {
    const Node& n = g.nodes()[k];
    auto in = [&](size_t j) -> const Layout& { return lay[g.index(n.inputs[j])]; };
    auto fresh = [&](int64_t c, const std::string& producer) {
      int s = sp.make(c);
      if (!producer.empty()) sp.producers[s].push_back(producer);
      return Layout{{s, 0, c, 1}};
    };
    switch (n.op) {
      case Op::Input: {
        lay[k] = fresh(shapes[k][0], "");
        sp.freeze(lay[k][0].group, "block input");
        break;
      }
      case Op::Conv2d: {
        int64_t groups = n.i("groups", 1), cin = n.i("in_channels"), cout = n.i("out_channels");
        if (groups == 1) {
          lay[k] = fresh(cout, n.name);
        } else if (groups == cin && cout == cin) {
          // Depthwise: output channel c is computed from input channel c alone.
          lay[k] = in(0);
          for (const auto& s : lay[k]) sp.producers[sp.find(s.group)].push_back(n.name);
        } else {
          // Grouped conv: pruning would have to keep the group structure; kept whole for now.
          lay[k] = fresh(cout, n.name);
          sp.freeze(lay[k][0].group, "grouped conv " + n.name);
          for (const auto& s : in(0)) sp.freeze(s.group, "grouped conv " + n.name);
        }
        break;
      }
      case Op::Linear: {
        lay[k] = fresh(n.i("out_features"), n.name);
        break;
      }
      case Op::Add: {
        lay[k] = in(0);
        for (size_t j = 1; j < n.inputs.size(); ++j) couple(sp, in(0), in(j), n.name);
        break;
      }
      case Op::Mul: {
        // With broadcasting, a side with one channel (or fewer dimensions) couples nothing.
        const Shape& a = shapes[g.index(n.inputs[0])];
        const Shape& b = shapes[g.index(n.inputs[1])];
        bool a_full = a.size() == shapes[k].size() && a[0] == shapes[k][0];
        bool b_full = b.size() == shapes[k].size() && b[0] == shapes[k][0];
        lay[k] = a_full ? in(0) : in(1);
        if (a_full && b_full) couple(sp, in(0), in(1), n.name);
        break;
      }
      case Op::Concat: {
        int64_t off = 0;
        for (size_t j = 0; j < n.inputs.size(); ++j) {
          for (auto s : in(j)) {
            s.offset += off;
            lay[k].push_back(s);
          }
          off += width(in(j));
        }
        break;
      }
      case Op::Flatten: {
        const Shape& x = shapes[g.index(n.inputs[0])];
        int64_t rep = 1;
        for (size_t d = 1; d < x.size(); ++d) rep *= x[d];
        for (auto s : in(0)) {
          s.offset *= rep;
          s.repeat *= rep;
          lay[k].push_back(s);
        }
        break;
      }
      default:  // batch norm, activations, pooling, dropout, identity, upsample keep channels
        lay[k] = in(0);
        break;
    }
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
