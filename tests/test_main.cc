// Shared test main: one torch thread, fixed seed, so every test is deterministic.
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "legodnn/util/allocator.h"

int main(int argc, char** argv) {
  legodnn::tune_allocator();  // as the program runs
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(1);
  at::manual_seed(0);
  return RUN_ALL_TESTS();
}
