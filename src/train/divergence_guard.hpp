#pragma once
// Stops a run that diverged. A step whose loss or gradient is not finite is skipped (its
// update is dropped) and reported; after train.max_bad_steps of them in a row the run stops
// with an error that names the last good checkpoint and the likely causes.
#include <cstdint>
#include <functional>
#include <string>

#include "stars/train/trainer.hpp"

namespace stars {

class DivergenceGuard {
 public:
  explicit DivergenceGuard(int max_bad_steps) : max_bad_steps_(max_bad_steps) {}
  /// Records the outcome of the step that ended at `step`; throws std::runtime_error after
  /// max_bad_steps non-finite steps in a row, naming `last_good_checkpoint()`.
  void record(const StepStats& stats, std::int64_t step,
              const std::function<std::string()>& last_good_checkpoint);
  /// True when the latest step was finite.
  bool clean() const { return consecutive_bad_ == 0; }

 private:
  int max_bad_steps_;
  int consecutive_bad_ = 0;
};

}  // namespace stars
