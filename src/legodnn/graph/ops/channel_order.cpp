// Ops that reorder or cut channels, which pruning cannot follow: both freeze the channels they read
// and give a frozen output, with the reason, so `legodnn blocks` says why the block keeps them.
// slice: channels [start, end) of a [C,...] input (TorchScript's chunk, split, narrow and x[:, a:b]).
// channel_shuffle: attribute groups; output channel j*groups + i is input channel i*(C/groups) + j
// (ShuffleNet's view-transpose-view, aten::channel_shuffle).
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

// The input's channels frozen and a frozen output, both with `why`.
ChannelLayout freeze_through(ChannelCoupling& c, const std::string& why) {
  c.freeze(c.input(0), why);
  auto l = c.fresh(c.output_shape()[0], false);
  c.freeze(l, why);
  return l;
}

Shape slice_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  if (in[0].empty()) fail(n, "input has no channel dimension");
  const int64_t start = n.i("start"), end = n.i("end"), c = in[0][0];
  if (start < 0 || end <= start || end > c)
    fail(n, "channels [" + std::to_string(start) + ", " + std::to_string(end) + ") are not within the input's " +
                std::to_string(c));
  Shape out = in[0];
  out[0] = end - start;
  return out;
}

ChannelLayout slice_channels(const Node& n, ChannelCoupling& c) { return freeze_through(c, "channel slice " + n.name); }

Shape channel_shuffle_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  const int64_t groups = n.i("groups");
  if (groups < 1 || x[0] % groups != 0)
    fail(n, "groups " + std::to_string(groups) + " do not divide the input's " + std::to_string(x[0]) + " channels");
  return x;
}

ChannelLayout channel_shuffle_channels(const Node& n, ChannelCoupling& c) {
  return freeze_through(c, "channel shuffle " + n.name);
}

}  // namespace

const OpInfo slice_op = {slice_shape, nullptr, nullptr, slice_channels, nullptr};
const OpInfo channel_shuffle_op = {channel_shuffle_shape, nullptr, nullptr, channel_shuffle_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
