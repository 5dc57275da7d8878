#pragma once
// The accuracy sweep run on a block repository (build stage "sweep", and `legodnn calibrate` on a
// repository already built): compositions are measured on the validation split, the refitted
// drops replace each descendant's acc_drop (the profiled value stays in acc_drop_profiled), and
// the manifest's "accuracy_sweep" section records every measured composition with its estimates
// before and after, its validation and test accuracy, and the estimate's errors.
#include <functional>
#include <string>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/profile/accuracy_sweep.h"

namespace legodnn {

/// Options of calibrate_repository.
struct CalibrateOptions {
  SweepOptions sweep;
  bool measure_test = true;  ///< also measure the reported compositions on the test split (never fitted on)
};

/// The estimate's errors on the optimizer's picks, before (profiled drops, first sweep) and after
/// (fitted drops, last sweep).
struct CalibrateReport {
  SweepResult sweep;
  double teacher_val = 0, teacher_test = 0;
  EstimateError val_before, val_after;
  EstimateError test_before, test_after;  ///< count 0 when the test split was not measured
  int measured_val = 0, measured_test = 0;
  double seconds = 0;
};

/// Runs the sweep on the repository in `dir` (profiled; starts from the profiled drops even when
/// a sweep ran before) with `val` as the measuring split and `test` for the report, then rewrites
/// its manifest atomically. `progress` (when set) is told what happens. Throws OptionError for a
/// repository that has not been profiled, IoError for a damaged one.
CalibrateReport calibrate_repository(const std::string& dir, const Split& val, const Split& test,
                                     const CalibrateOptions& o,
                                     const std::function<void(const std::string&)>& progress = nullptr);

/// The before/after table of a report, one line per split.
std::string calibrate_table(const CalibrateReport& r);

}  // namespace legodnn
