#include "legodnn/blocks/detect.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include "legodnn/blocks/channels.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {

struct Segment {
  int first = 0, last = 0;  // node index range [first, last]; last is a cut point
  int convs = 0;
  Shape exit_shape;
};

// Pieces between consecutive cut points, with the shape-keeping pieces that carry no conv (a batch
// norm, an activation) merged into the piece before them: one segment is then a conv layer with
// its batch norm and activation, a residual unit, or a pooling layer.
std::vector<Segment> segments(const Graph& g, const std::vector<Shape>& shapes) {
  std::vector<Segment> segs;
  auto cuts = cut_points(g);
  for (size_t k = 1; k < cuts.size(); ++k) {
    Segment s;
    s.first = g.index(cuts[k - 1]) + 1;
    s.last = g.index(cuts[k]);
    for (int i = s.first; i <= s.last; ++i) s.convs += g.nodes()[i].op == Op::Conv2d;
    s.exit_shape = shapes[s.last];
    if (s.convs == 0 && !segs.empty() && s.exit_shape == segs.back().exit_shape) {
      segs.back().last = s.last;
      continue;
    }
    segs.push_back(s);
  }
  return segs;
}

BlockSpec make_block(const Graph& g, int first, int last) {
  BlockSpec b;
  for (int i = first; i <= last; ++i) {
    b.nodes.push_back(g.nodes()[i].name);
    b.convs += g.nodes()[i].op == Op::Conv2d;
  }
  b.exit = g.nodes()[last].name;
  b.entry = g.nodes()[first - 1].name;  // a cut point: the only node the block reads from outside
  return b;
}

// True when one of the segment's convs reads or writes a prunable channel group of the run.
bool participates(const Graph& bg, const ChannelAnalysis& ca, const Graph& g, const Segment& s) {
  for (int i = s.first; i <= s.last; ++i) {
    const Node& n = g.nodes()[i];
    if (n.op != Op::Conv2d) continue;
    int k = bg.index(n.name);
    for (const auto& seg : ca.layout[k]) if (!ca.groups[seg.group].frozen) return true;
    for (const auto& seg : ca.layout[bg.index(n.inputs[0])]) if (!ca.groups[seg.group].frozen) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> cut_points(const Graph& g) {
  const auto& nodes = g.nodes();
  const int n = static_cast<int>(nodes.size());
  const int in = g.index(g.input()), out = g.index(g.output());
  // Nodes on some input-to-output path: reachable from the input and reaching the output.
  std::vector<char> fwd(n, 0), bwd(n, 0);
  fwd[in] = 1;
  for (int k = 0; k < n; ++k)
    for (const auto& i : nodes[k].inputs) fwd[k] |= fwd[g.index(i)];
  bwd[out] = 1;
  for (int k = n - 1; k >= 0; --k)
    if (bwd[k])
      for (const auto& i : nodes[k].inputs) bwd[g.index(i)] = 1;
  // In topological order, v separates input from output iff no edge jumps over it.
  const auto cons = g.consumers();
  std::vector<std::string> cuts;
  int reach = in;  // furthest node an edge from an earlier on-path node goes to
  for (int k = in; k <= out; ++k) {
    if (!(fwd[k] && bwd[k])) continue;
    if (reach <= k) cuts.push_back(nodes[k].name);
    for (int c : cons[k]) reach = std::max(reach, c);
  }
  return cuts;
}

std::vector<BlockSpec> detect_blocks(const Graph& g, const DetectOptions& o) {
  auto shapes = g.infer_shapes();
  auto segs = segments(g, shapes);
  int max_convs = o.max_convs;
  if (o.max_ratio > 0) {
    int total = 0;
    for (const auto& s : segs) total += s.convs;
    max_convs = std::max(static_cast<int>(std::floor(o.max_ratio * total)), 2);
  }
  if (max_convs < 1) throw OptionError("max_convs must be at least 1, got " + std::to_string(max_convs));
  int last_conv_seg = -1;
  for (size_t k = 0; k < segs.size(); ++k)
    if (segs[k].convs) last_conv_seg = static_cast<int>(k);

  std::vector<BlockSpec> blocks;
  auto close = [&](std::vector<Segment> run) {
    // Drop segments whose convs touch no prunable channels from both ends (a stem before a
    // residual unit, say): they would make the block bigger without making it scalable.
    while (!run.empty()) {
      BlockSpec b = make_block(g, run.front().first, run.back().last);
      Graph bg = block_graph(g, b);
      auto ca = analyse_channels(bg);
      if (ca.prunable() == 0) return;
      if (run.front().convs && !participates(bg, ca, g, run.front())) {
        run.erase(run.begin());
        continue;
      }
      int last = -1;
      for (size_t k = 0; k < run.size(); ++k)
        if (run[k].convs && participates(bg, ca, g, run[k])) last = static_cast<int>(k);
      size_t keep = last + 1;
      while (keep < run.size() && run[keep].convs == 0) ++keep;  // pooling after the last conv stays
      if (keep < run.size()) {
        run.resize(keep);
        continue;
      }
      blocks.push_back(std::move(b));
      return;
    }
  };
  // Whether a run of segments has a prunable channel group at all.
  auto prunable = [&](const std::vector<Segment>& run) {
    BlockSpec b = make_block(g, run.front().first, run.back().last);
    return analyse_channels(block_graph(g, b)).prunable() > 0;
  };
  std::vector<Segment> run;
  int run_convs = 0;
  Shape run_res;
  for (int k = 0; k <= last_conv_seg; ++k) {
    const Segment& s = segs[k];
    if (s.convs == 0) {
      if (!run.empty()) run.push_back(s);  // a pooling layer joins the block before it
      continue;
    }
    Shape res = s.exit_shape.size() == 3 ? Shape{s.exit_shape[1], s.exit_shape[2]} : Shape{};
    bool new_stage = !o.cross_stages && !run.empty() && res != run_res;
    // A run without any prunable channels (a lone conv layer, the first half of an inverted
    // residual with a stride) cannot be a block yet: it grows on instead of closing.
    if (!run.empty() && (new_stage || run_convs + s.convs > max_convs) && prunable(run)) {
      close(run);
      run.clear();
      run_convs = 0;
    }
    run.push_back(s);
    run_convs += s.convs;
    run_res = res;
  }
  if (!run.empty()) close(run);
  for (size_t k = 0; k < blocks.size(); ++k) blocks[k].id = static_cast<int>(k);
  return blocks;
}

std::vector<BlockSpec> explicit_blocks(const Graph& g,
                                       const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<BlockSpec> blocks;
  auto cons = g.consumers();
  int prev_last = -1;
  for (const auto& [first, last] : pairs) {
    const std::string what = "block " + first + ":" + last;
    if (!g.contains(first)) throw GraphError(what + ": no node named '" + first + "'");
    if (!g.contains(last)) throw GraphError(what + ": no node named '" + last + "'");
    int f = g.index(first), l = g.index(last);
    if (f > l) throw GraphError(what + ": '" + first + "' comes after '" + last + "' in the graph");
    if (f <= prev_last) throw GraphError(what + ": overlaps the block before it");
    if (g.nodes()[f].op == Op::Input) throw GraphError(what + ": a block cannot contain the input node");
    std::set<std::string> entries;
    for (int k = f; k <= l; ++k)
      for (const auto& in : g.nodes()[k].inputs)
        if (g.index(in) < f) entries.insert(in);
    if (entries.size() != 1) {
      std::string list;
      for (const auto& e : entries) list += (list.empty() ? "" : ", ") + e;
      throw GraphError(what + ": not single-entry: it reads " + std::to_string(entries.size()) +
                       " outside nodes (" + list + ")");
    }
    for (int k = f; k <= l; ++k) {
      if (k == l) continue;
      for (int c : cons[k])
        if (c > l)
          throw GraphError(what + ": not single-exit: '" + g.nodes()[c].name + "' outside the block reads '" +
                           g.nodes()[k].name + "', which is not the last node");
      if (g.nodes()[k].name == g.output())
        throw GraphError(what + ": not single-exit: the graph output '" + g.output() + "' is inside");
    }
    BlockSpec b;
    b.entry = *entries.begin();
    b.exit = last;
    for (int k = f; k <= l; ++k) {
      b.nodes.push_back(g.nodes()[k].name);
      b.convs += g.nodes()[k].op == Op::Conv2d;
    }
    // The nodes between the entry and `first` must not be read inside the block either; the
    // entry check above covers that (they count as outside nodes).
    b.id = static_cast<int>(blocks.size());
    blocks.push_back(std::move(b));
    prev_last = l;
  }
  return blocks;
}

std::vector<std::string> frame_nodes(const Graph& g, const std::vector<BlockSpec>& blocks) {
  std::unordered_set<std::string> in_block;
  for (const auto& b : blocks) in_block.insert(b.nodes.begin(), b.nodes.end());
  std::vector<std::string> out;
  for (const auto& n : g.nodes())
    if (!in_block.count(n.name)) out.push_back(n.name);
  return out;
}

Graph block_graph(const Graph& g, const BlockSpec& b) {
  auto shapes = g.infer_shapes();
  Graph bg;
  bg.add({b.entry, Op::Input, {}, {{"shape", shapes[g.index(b.entry)]}}});
  for (const auto& name : b.nodes) bg.add(g.node(name));
  bg.set_output(b.exit);
  return bg;
}

}  // namespace legodnn
