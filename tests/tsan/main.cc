// Main of the ThreadSanitizer tests: LibTorch is not instrumented, so it must not start threads
// of its own (intra-op or inter-op pools) whose work TSan cannot see.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(1);
  at::set_num_interop_threads(1);
  at::manual_seed(0);
  return RUN_ALL_TESTS();
}
