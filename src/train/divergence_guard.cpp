#include "divergence_guard.hpp"

#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace stars {

void DivergenceGuard::record(const StepStats& stats, std::int64_t step,
                             const std::function<std::string()>& last_good_checkpoint) {
  if (std::isfinite(stats.loss) && std::isfinite(stats.grad_norm)) {
    consecutive_bad_ = 0;
    return;
  }
  spdlog::warn("step {}: non-finite loss or gradient ({}), update skipped", step, stats.loss);
  if (++consecutive_bad_ < max_bad_steps_) return;
  const std::string kept = last_good_checkpoint();
  throw std::runtime_error(
      "training diverged: " + std::to_string(consecutive_bad_) +
      " consecutive non-finite steps ending at step " + std::to_string(step) +
      "; the last good checkpoint is kept" + (kept.empty() ? "" : " (" + kept + ")") +
      ". Likely causes: learning rate too high, no gradient clipping (phases.N.clip), or a loop "
      "tail too long to backpropagate (phases.N.loops.max, phases.N.loops.backprop_depth)");
}

}  // namespace stars
