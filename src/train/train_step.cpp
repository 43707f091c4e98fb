// One optimisation step: the objective (train/objective.hpp) on the step's batch, wrapped
// by data parallelism (each rank takes its rows of the global batch) and batch shards (each
// rank's rows split over its LibTorch threads), then clipping and the AdamW update.
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "stars/data/batch.hpp"
#include "stars/data/text.hpp"
#include "stars/dist/data_parallel.hpp"
#include "stars/train/loop_sampler.hpp"
#include "stars/train/objective.hpp"
#include "stars/train/schedule.hpp"
#include "stars/train/sharded_backward.hpp"
#include "stars/train/trainer.hpp"

namespace stars {
namespace {

Batch rows_of(const Batch& batch, std::pair<int, int> range) {
  const auto [begin, end] = range;
  return {batch.inputs.narrow(0, begin, end - begin), batch.targets.narrow(0, begin, end - begin)};
}

double target_tokens(const Batch& batch) {
  return (batch.targets != kIgnoreIndex).sum().item<double>();
}

/// How one shard's objective counts in the step's: its CE weighted by its share of the
/// global batch's target tokens, its penalty by 1 / (shards over all ranks), so that the
/// summed gradients equal those of the objective on the whole global batch.
struct ShardWeights {
  double global_targets = 0;  // 0: one shard on one rank, nothing to reweight
  int shards_in_step = 1;
};

ShardLoss shard_share(const Objective& o, const Batch& part, const ShardWeights& weights,
                      double penalty_weight) {
  const torch::Tensor ce =
      weights.global_targets > 0 ? o.ce * (target_tokens(part) / weights.global_targets) : o.ce;
  ShardLoss share{ce, ce.item<double>(), 0.0};
  if (!o.penalty.defined()) return share;
  const torch::Tensor penalty = o.penalty / static_cast<double>(weights.shards_in_step);
  share.loss = mix_loss(ce, penalty, penalty_weight);
  share.penalty = penalty.item<double>();
  return share;
}

/// Power-iteration start vectors of each shard of `batch`, drawn in shard order from torch's
/// generator (concurrent shards must not draw themselves).
std::vector<torch::Tensor> power_starts(const Batch& batch, int shards, std::int64_t width) {
  std::vector<torch::Tensor> starts;
  const auto rows = static_cast<int>(batch.inputs.size(0));
  for (int k = 0; k < shards; ++k) {
    const auto [begin, end] = dist::shard_range(rows, k, shards);
    starts.push_back(torch::randn({end - begin, batch.inputs.size(1), width},
                                  torch::device(batch.inputs.device())));
  }
  return starts;
}

}  // namespace

int Trainer::shard_count(int rows) const {
  int n = cfg_.train.batch_shards;
  // Automatic sharding where it is exact and reproducible: on the CPU, without dropout
  // (whose draws from the shared generator would interleave between shards).
  if (n == 0) n = device_.is_cpu() && cfg_.model.dropout == 0 ? at::get_num_threads() : 1;
  return std::max(1, std::min(n, rows));
}

DifficultyRange Trainer::step_range(const PhasePosition& at, std::int64_t step) const {
  return step_difficulty(at.phase->loops, phase_difficulty(*at.phase, at.index, *task_),
                         static_cast<std::uint64_t>(cfg_.train.seed),
                         static_cast<std::uint64_t>(step));
}

std::vector<Example> Trainer::step_examples(std::int64_t step) const {
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  if (train_data_.empty())
    return task_->sample_batch(cfg_.train.batch, seed, static_cast<std::uint64_t>(step),
                               step_range(phase_at(cfg_.phases, step), step));
  Rng rng(seed, static_cast<std::uint64_t>(step), RngStream::data);
  std::vector<Example> examples;
  for (int i = 0; i < cfg_.train.batch; ++i)
    examples.push_back(train_data_[static_cast<std::size_t>(
        rng.uniform_int(0, static_cast<std::int64_t>(train_data_.size()) - 1))]);
  return examples;
}

Batch Trainer::step_batch(std::int64_t step) const {
  if (corpus_)
    return text_batch(corpus_->train, cfg_.train.batch, cfg_.data.seq_len,
                      static_cast<std::uint64_t>(cfg_.train.seed), static_cast<std::uint64_t>(step),
                      device_);
  return make_batch(step_examples(step), tok_, device_);
}

std::vector<torch::Tensor> Trainer::trained_parameters(const PhaseConfig& phase) {
  if (phase.exit_gate.objective != GateObjective::improvement) return model_->parameters();
  // The gate-only stage: every other weight's gradient is left undefined, so that AdamW
  // skips it (weight decay included) and it stays as the earlier phases left it.
  for (auto& p : model_->parameters()) p.mutable_grad().reset();
  return model_->exit_gate->parameters();
}

StepStats Trainer::train_step(std::int64_t step) {
  const PhasePosition at = phase_at(cfg_.phases, step);
  if (at.index != optimizer_phase_) {  // each phase starts a fresh AdamW
    reset_optimizer();
    optimizer_phase_ = at.index;
  }
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  torch::manual_seed(mix_seed(seed, static_cast<std::uint64_t>(step),
                              static_cast<std::uint64_t>(RngStream::torch)));
  const Batch global = step_batch(step);

  StepStats stats;
  // Loop counts tied to difficulty need the batch's difficulty; validation keeps them off
  // where problems have none (text, a train_file).
  stats.loops = at.phase->loops.per_difficulty > 0
                    ? step_loops(at.phase->loops, step_range(at, step), seed,
                                 static_cast<std::uint64_t>(step))
                    : sample_loops(at.phase->loops, seed, static_cast<std::uint64_t>(step));
  stats.tokens = global.inputs.numel() + global.inputs.size(0);  // whole sequences, as the peer
  stats.lr = learning_rate(at, step, cfg_.train.min_lr_ratio);
  const JacobianPenaltyConfig& penalty = at.phase->jacobian_penalty;
  stats.penalty_active = penalty_active(penalty, step - at.start, stats.loops);

  // This rank's rows of the global batch (padded as the whole batch), in concurrent shards.
  const int world = opts_.group ? opts_.group->world_size() : 1;
  const Batch batch =
      opts_.group ? rows_of(global, dist::shard_range(cfg_.train.batch, opts_.group->rank(), world))
                  : global;
  const int rows = static_cast<int>(batch.inputs.size(0));
  const int shards = shard_count(rows);
  const ShardWeights weights{world * shards > 1 ? target_tokens(global) : 0.0, world * shards};
  // Concurrent shards must not draw from torch's generator, so their power-iteration starts
  // are drawn here, in shard order; one shard draws its own (undefined start).
  std::vector<torch::Tensor> starts(static_cast<std::size_t>(shards));
  if (stats.penalty_active && shards > 1) starts = power_starts(batch, shards, cfg_.model.d_model);
  auto shard_loss = [&](int k) {
    const Batch part = shards > 1 ? rows_of(batch, dist::shard_range(rows, k, shards)) : batch;
    ObjectiveOptions opts;
    opts.forward.n_loops = stats.loops;
    opts.forward.backprop_depth = at.phase->loops.backprop_depth;
    opts.penalty = stats.penalty_active ? &penalty : nullptr;
    opts.gate = &at.phase->exit_gate;
    opts.power_start = starts[static_cast<std::size_t>(k)];
    return shard_share(stars_objective(model_, part, opts), part, weights, penalty.weight);
  };

  model_->train();
  set_learning_rate(*optimizer_, stats.lr);
  optimizer_->zero_grad();
  // Gradients for the weights only: the penalty's state leaf would otherwise get one too.
  const std::vector<torch::Tensor> trained = trained_parameters(*at.phase);
  const ShardSums sums = sharded_backward(shards, shard_loss, trained);
  stats.loss = sums.loss, stats.ce = sums.ce, stats.penalty = sums.penalty;
  stats.stop = stop_flag_ && *stop_flag_;
  if (opts_.group) reduce_step(stats, trained);
  apply_update(at, stats);
  return stats;
}

void Trainer::apply_update(const PhasePosition& at, StepStats& stats) {
  const double max_norm =
      at.phase->clip > 0 ? at.phase->clip : std::numeric_limits<double>::infinity();
  stats.grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), max_norm);
  if (!std::isfinite(stats.loss) || !std::isfinite(stats.grad_norm)) {
    optimizer_->zero_grad();  // skip the update; the divergence guard counts and reports it
    return;
  }
  optimizer_->step();
}

void Trainer::reduce_step(StepStats& stats, const std::vector<torch::Tensor>& trained) {
  // One all-reduce carries the gradients, the loss parts and the stop flag, so that every
  // rank applies the same update and stops at the same step.
  std::vector<double> extras{stats.loss, stats.ce, stats.penalty, stats.stop ? 1.0 : 0.0};
  dist::all_reduce_gradients(*opts_.group, trained, extras);
  stats.loss = extras[0], stats.ce = extras[1], stats.penalty = extras[2];
  stats.stop = extras[3] > 0;
}

}  // namespace stars
