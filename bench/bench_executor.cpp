// Benchmark: the IR executor against a hand-written torch::nn ResNet-20 with the same weights,
// in the same process, interleaved run by run. Prints medians and the ratio IR / torch::nn.
//   build/bench_executor [--threads N] [--reps R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/weights.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/allocator.h"

using namespace legodnn;

namespace {

struct BasicBlockImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      down = register_module("down", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      down_bn = register_module("down_bn", torch::nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn2(conv2(torch::relu(bn1(conv1(x)))));
    auto s = down ? down_bn(down(x)) : x;
    return torch::relu(y + s);
  }
};
TORCH_MODULE(BasicBlock);

// The classic CIFAR ResNet-20 written with torch::nn, as a user of LibTorch would.
struct ResNet20Impl : torch::nn::Module {
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  std::vector<BasicBlock> blocks;
  torch::nn::Linear fc{nullptr};
  ResNet20Impl() {
    stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1).bias(false)));
    stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(16));
    int64_t in = 16;
    const int64_t widths[] = {16, 32, 64};
    for (int s = 0; s < 3; ++s)
      for (int k = 0; k < 3; ++k) {
        blocks.push_back(register_module("s" + std::to_string(s + 1) + "_b" + std::to_string(k),
                                         BasicBlock(in, widths[s], (s > 0 && k == 0) ? 2 : 1)));
        in = widths[s];
      }
    fc = register_module("fc", torch::nn::Linear(64, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(stem_bn(stem(x)));
    for (auto& b : blocks) x = b(x);
    return fc(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }
};
TORCH_MODULE(ResNet20);

void copy_bn(torch::nn::BatchNorm2d& bn, const Weights& w, const std::string& p) {
  bn->weight.copy_(w.at(p + ".weight"));
  bn->bias.copy_(w.at(p + ".bias"));
  bn->running_mean.copy_(w.at(p + ".running_mean"));
  bn->running_var.copy_(w.at(p + ".running_var"));
}

void copy_weights(ResNet20& net, const Weights& w) {
  torch::NoGradGuard ng;
  net->stem->weight.copy_(w.at("stem.conv.weight"));
  copy_bn(net->stem_bn, w, "stem.bn");
  for (int s = 0; s < 3; ++s)
    for (int k = 0; k < 3; ++k) {
      auto& b = net->blocks[s * 3 + k];
      std::string p = "s" + std::to_string(s + 1) + ".b" + std::to_string(k);
      b->conv1->weight.copy_(w.at(p + ".conv1.weight"));
      copy_bn(b->bn1, w, p + ".bn1");
      b->conv2->weight.copy_(w.at(p + ".conv2.weight"));
      copy_bn(b->bn2, w, p + ".bn2");
      if (b->down) {
        b->down->weight.copy_(w.at(p + ".down.conv.weight"));
        copy_bn(b->down_bn, w, p + ".down.bn");
      }
    }
  net->fc->weight.copy_(w.at("fc.weight"));
  net->fc->bias.copy_(w.at("fc.bias"));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_ms(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Runs a and b alternately (after warm-up), so slow phases of a noisy machine hit both alike.
void compare(const char* what, int reps, const std::function<void()>& ir, const std::function<void()>& nn) {
  for (int i = 0; i < 3; ++i) {
    ir();
    nn();
  }
  std::vector<double> a, b;
  for (int i = 0; i < reps; ++i) {
    if (i % 2) {
      a.push_back(time_ms(ir));
      b.push_back(time_ms(nn));
    } else {
      b.push_back(time_ms(nn));
      a.push_back(time_ms(ir));
    }
  }
  double ma = median(a), mb = median(b);
  std::printf("%-28s IR %9.3f ms   torch::nn %9.3f ms   ratio IR/nn %.3f\n", what, ma, mb, ma / mb);
}

}  // namespace

int main(int argc, char** argv) {
  legodnn::tune_allocator();  // as the program runs
  int threads = 1, reps = 21;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf("IR executor vs hand-written torch::nn ResNet-20 (same weights), %d thread(s), median of %d\n",
              threads, reps);

  Model m{build_zoo_model("resnet20", {}), {}};
  m.weights = init_weights(m.graph, 0);
  ResNet20 net;
  copy_weights(net, m.weights);
  Executor ex(m.graph, m.weights);

  // Same weights must give the same outputs, or the timings compare different work.
  {
    torch::InferenceMode g;
    net->eval();
    auto x = torch::randn({4, 1, 32, 32});
    double diff = (ex.forward(x) - net->forward(x)).abs().max().item<double>();
    std::printf("max |IR - nn| on a batch of 4: %.2e\n", diff);
    if (diff > 1e-4) return 1;
  }

  // One training step at batch 128: forward, cross-entropy, backward, SGD step.
  {
    auto x = torch::randn({128, 1, 32, 32});
    auto y = torch::randint(0, 10, {128});
    auto params = trainable_tensors(m.graph, m.weights);
    torch::optim::SGD opt_ir(params, torch::optim::SGDOptions(0.01).momentum(0.9));
    torch::optim::SGD opt_nn(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    net->train();
    compare("train step, batch 128", std::max(5, reps / 3),
            [&] {
              opt_ir.zero_grad();
              torch::nn::functional::cross_entropy(ex.forward(x, true), y).backward();
              opt_ir.step();
            },
            [&] {
              opt_nn.zero_grad();
              torch::nn::functional::cross_entropy(net->forward(x), y).backward();
              opt_nn.step();
            });
  }

  net->eval();
  for (int64_t batch : {1, 64}) {
    auto x = torch::randn({batch, 1, 32, 32});
    torch::InferenceMode g;
    std::string what = "inference, batch " + std::to_string(batch);
    int r = batch == 1 ? reps * 10 : reps;
    compare(what.c_str(), r, [&] { ex.forward(x); }, [&] { net->forward(x); });
  }
  return 0;
}
