#pragma once
// The training schedule: which phase a global step belongs to, its learning rate (linear
// warmup, then cosine or warmup-stable-decay to train.min_lr_ratio of the phase's lr), and
// the AdamW optimiser that each phase starts afresh.
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/optim/adamw.h>

#include "stars/config/config.hpp"
#include "stars/data/task.hpp"

namespace stars {

/// Where a global step sits in the phase list.
struct PhasePosition {
  const PhaseConfig* phase;
  int index;
  std::int64_t start;  // global step at which the phase begins
  std::int64_t end() const { return start + phase->steps; }
};

/// The phase of global step `step`; steps past the end belong to the last phase.
PhasePosition phase_at(const std::vector<PhaseConfig>& phases, std::int64_t step);

/// The difficulties phase `index` trains on: its own bounds where set, else the task's
/// training range. Throws ConfigError naming the keys when they leave that range.
DifficultyRange phase_difficulty(const PhaseConfig& phase, int index, const Task& task);

/// Learning rate at global `step` inside `at`'s phase: linear warmup, then cosine decay to
/// min_lr_ratio (lr_schedule cosine), or held until the last decay_fraction of the phase and
/// then the cosine decay (wsd).
double learning_rate(const PhasePosition& at, std::int64_t step, double min_lr_ratio);

/// A fresh AdamW over `params` with train's weight decay and betas, at learning rate `lr`.
std::unique_ptr<torch::optim::AdamW> make_optimizer(const std::vector<torch::Tensor>& params,
                                                    const TrainConfig& train, double lr);

/// Sets every parameter group's learning rate.
void set_learning_rate(torch::optim::AdamW& optimizer, double lr);

}  // namespace stars
