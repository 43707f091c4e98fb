#include "stars/train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "stars/config/errors.hpp"

namespace stars {

DifficultyRange phase_difficulty(const PhaseConfig& phase, int index, const Task& task) {
  const DifficultyRange data = task.training_range();
  const DifficultyRange range{phase.min_difficulty > 0 ? phase.min_difficulty : data.lo,
                              phase.max_difficulty > 0 ? phase.max_difficulty : data.hi};
  if (range.lo < data.lo || range.hi > data.hi || range.lo > range.hi) {
    const std::string key = "phases." + std::to_string(index) + ".";
    throw ConfigError(key + "min_difficulty/" + key + "max_difficulty: [" +
                      std::to_string(range.lo) + ", " + std::to_string(range.hi) +
                      "] must be a range within the data range [" + std::to_string(data.lo) + ", " +
                      std::to_string(data.hi) + "] of task " + task.name() +
                      " (widen data.min_difficulty/max_difficulty, which also sets the "
                      "problems' format)");
  }
  return range;
}

PhasePosition phase_at(const std::vector<PhaseConfig>& phases, std::int64_t step) {
  std::int64_t start = 0;
  for (std::size_t i = 0; i + 1 < phases.size(); ++i) {
    if (step < start + phases[i].steps) return {&phases[i], static_cast<int>(i), start};
    start += phases[i].steps;
  }
  return {&phases.back(), static_cast<int>(phases.size()) - 1, start};
}

double learning_rate(const PhasePosition& at, std::int64_t step, double min_lr_ratio) {
  const PhaseConfig& phase = *at.phase;
  const double into_phase = static_cast<double>(step - at.start);
  const double warmup = phase.warmup, total = phase.steps;
  if (into_phase < warmup) return phase.lr * (into_phase + 1) / warmup;
  double progress = total > warmup ? (into_phase - warmup) / (total - warmup) : 1.0;
  if (phase.lr_schedule == LrSchedule::wsd) {  // held at lr until the decay's share is left
    const double decay = std::max(1.0, std::round(phase.decay_fraction * total));
    const double decay_start = std::max(warmup, total - decay);
    if (into_phase < decay_start) return phase.lr;
    progress = total > decay_start ? (into_phase - decay_start) / (total - decay_start) : 1.0;
  }
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return phase.lr * (min_lr_ratio + (1 - min_lr_ratio) * cosine);
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(const std::vector<torch::Tensor>& params,
                                                    const TrainConfig& train, double lr) {
  torch::optim::AdamWOptions options(lr);
  options.weight_decay(train.weight_decay);
  options.betas({train.adam_beta1, train.adam_beta2});
  return std::make_unique<torch::optim::AdamW>(params, options);
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace stars
