#pragma once
// Scenario results for people: the comparison table on the terminal and plots through gnuplot.
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/scenario/runner.h"

namespace legodnn {

/// Accuracy over `n` served images with `correct` right, and its 95% Wilson interval: the
/// resolution the number of images gives. NaN for no images.
struct AccuracyInterval {
  double accuracy = 0, low = 0, high = 0;
};
AccuracyInterval accuracy_interval(int64_t correct, int64_t n);

/// The side-by-side summary of one or more runs of the same scenario.
std::string summary_table(const std::vector<RunSummary>& runs, double memory_budget_mb);

/// Per phase of the scenario (between events), each run's accuracy over served images and its
/// deadline-miss rate.
std::string phase_table(const std::vector<RunSummary>& runs);

/// Writes `dir`/plots.gp and, when gnuplot is installed, renders accuracy.png, latency.png and
/// memory.png from the runs' CSV files (`csvs`: system name -> file). Returns the PNG paths made
/// (empty when gnuplot is missing or failed; the CSV files are the record either way).
std::vector<std::string> plot_runs(const std::vector<std::pair<std::string, std::string>>& csvs,
                                   const std::vector<std::string>& models, const std::string& dir);

}  // namespace legodnn
