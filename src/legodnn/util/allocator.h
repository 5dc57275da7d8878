#pragma once
// The C allocator tuned for torch's batch tensors (glibc only; elsewhere a no-op).

namespace legodnn {

/// With glibc's defaults, a batch tensor of a few MB to 32 MB is mapped and unmapped by the
/// kernel on every call, or the heap top is trimmed and grown back, and each time its pages are
/// faulted in again: `legodnn eval` of resnet20 on 10,000 images spent 37 of its 40 s in the
/// kernel. Allocations below 32 MB come from the heap and up to 256 MB freed at its top are kept
/// (peak 474 against 438 MB there; 365 MB once batches are sized by batch_within, graph.h).
/// Call first thing in main(); a setting the user gives with MALLOC_MMAP_THRESHOLD_ or
/// MALLOC_TRIM_THRESHOLD_ is left as given, and LEGODNN_DEFAULT_MALLOC=1 (any value) keeps glibc's
/// defaults.
void tune_allocator();

/// Bytes a batch tensor may take and still come from the heap once tune_allocator ran (below its
/// 32 MB mmap threshold, with room for the allocator's own headers).
constexpr long long kHeapTensorBytes = 24LL << 20;

}  // namespace legodnn
