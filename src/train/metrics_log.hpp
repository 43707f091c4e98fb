#pragma once
// What a run reports as it trains: a line per logging window on the console (loss terms,
// loops, learning rate, throughput, elapsed time and ETA) and one JSON object per line in
// RUN/metrics.jsonl, flushed at once so that a killed run keeps everything it logged.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "stars/train/trainer.hpp"

namespace stars {

/// Sums of the per-step stats over a logging window.
struct StepWindow {
  StepStats sum;
  int steps = 0;
  std::int64_t loops = 0;
  void add(const StepStats& stats);
};

/// "12m05s", or "1h02m" from an hour on.
std::string format_duration(double seconds);

/// {"4": 0.99, "32": 0.98}.
nlohmann::json accuracy_json(const DepthAccuracy& accuracy);

class MetricsLog {
 public:
  /// Appends to `path` from now on (rank 0 of a run with a directory); before that, and on
  /// other ranks, lines go to the console only.
  void open(const std::string& path);
  void write(const nlohmann::json& record);
  /// The window's means on the console and in the file, at global `step` of `total`, with
  /// the elapsed time and the time left at the pace of the `steps_run` steps this process
  /// ran in `run_seconds` (an upper bound: a phase may end early on its goal).
  void log_window(std::int64_t step, std::int64_t total, const std::string& phase,
                  const StepWindow& window, double window_seconds, std::int64_t steps_run,
                  double run_seconds);

 private:
  std::ofstream out_;
};

}  // namespace stars
