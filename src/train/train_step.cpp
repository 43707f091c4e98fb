// One optimisation step: the objective (train/objective.hpp) on the step's micro-batches
// (train.accumulation of them, each with its own loop count), wrapped by data parallelism
// (each rank takes its rows of each global micro-batch) and batch shards (each rank's rows
// split over its LibTorch threads), then clipping and the AdamW update.
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "stars/data/batch.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/text.hpp"
#include "stars/dist/data_parallel.hpp"
#include "stars/train/loop_sampler.hpp"
#include "stars/train/micro_batch.hpp"
#include "stars/train/objective.hpp"
#include "stars/train/schedule.hpp"
#include "stars/train/sharded_backward.hpp"
#include "stars/train/trainer.hpp"

namespace stars {
namespace {

// The data and loop-count stream of micro-batch `micro` of step `step`: the step's own for
// the first (so one micro-batch per step draws as before accumulation existed), then
// streams no step reaches.
std::uint64_t micro_stream(std::int64_t step, int micro) {
  return static_cast<std::uint64_t>(step) + (static_cast<std::uint64_t>(micro) << 40);
}

}  // namespace

int Trainer::shard_count(int rows) const {
  int n = cfg_.train.batch_shards;
  // Automatic sharding where it is exact and reproducible: on the CPU, without dropout
  // (whose draws from the shared generator would interleave between shards).
  if (n == 0) n = device_.is_cpu() && cfg_.model.dropout == 0 ? at::get_num_threads() : 1;
  return std::max(1, std::min(n, rows));
}

DifficultyRange Trainer::step_range(const PhasePosition& at, std::uint64_t stream) const {
  return step_difficulty(at.phase->loops, phase_difficulty(*at.phase, at.index, *task_),
                         static_cast<std::uint64_t>(cfg_.train.seed), stream);
}

std::vector<Example> Trainer::step_examples(std::int64_t step, std::uint64_t stream) const {
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  if (train_data_.empty())
    return task_->sample_batch(cfg_.train.batch, seed, stream,
                               step_range(phase_at(cfg_.phases, step), stream));
  Rng rng(seed, stream, RngStream::data);
  std::vector<Example> examples;
  for (int i = 0; i < cfg_.train.batch; ++i)
    examples.push_back(train_data_[static_cast<std::size_t>(
        rng.uniform_int(0, static_cast<std::int64_t>(train_data_.size()) - 1))]);
  return examples;
}

Batch Trainer::step_batch(std::int64_t step, std::uint64_t stream) const {
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  if (corpus_)
    return text_batch(corpus_->train, cfg_.train.batch, cfg_.data.seq_len, seed, stream, device_);
  if (chat_)
    return chat_batch(chat_->train, cfg_.train.batch, seed, stream, chat_->pad_id, device_);
  return make_batch(step_examples(step, stream), tok_, device_);
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
  // Every micro-batch is drawn first: each one's weight is its share of the step's tokens.
  const int micro_batches = cfg_.train.accumulation;
  std::vector<Batch> globals;
  double step_targets = 0;
  StepStats stats;
  for (int m = 0; m < micro_batches; ++m) {
    globals.push_back(step_batch(step, micro_stream(step, m)));
    step_targets += target_tokens(globals.back());
    stats.tokens += globals.back().inputs.numel() + globals.back().inputs.size(0);  // as the peer
  }
  stats.lr = learning_rate(at, step, cfg_.train.min_lr_ratio);
  const int world = opts_.group ? opts_.group->world_size() : 1;

  model_->train();
  set_learning_rate(*optimizer_, stats.lr);
  optimizer_->zero_grad();
  // Gradients for the weights only: the penalty's state leaf would otherwise get one too.
  const std::vector<torch::Tensor> trained = trained_parameters(*at.phase);
  for (int m = 0; m < micro_batches; ++m) {
    const std::uint64_t stream = micro_stream(step, m);
    // Each micro-batch draws its own loop count, as the paper's fine-tuning does. Loop
    // counts tied to difficulty need the batch's difficulty; validation keeps them off
    // where problems have none (text, a train_file).
    const int loops = at.phase->loops.per_difficulty > 0
                          ? step_loops(at.phase->loops, step_range(at, stream), seed, stream)
                          : sample_loops(at.phase->loops, seed, stream);
    const JacobianPenaltyConfig& penalty = at.phase->jacobian_penalty;
    const bool penalised = penalty_active(penalty, step - at.start, loops);
    stats.micro_loops.push_back(loops);
    stats.penalty_active = stats.penalty_active || penalised;
    // This rank's rows of the micro-batch (padded as the whole), in concurrent shards.
    const Batch batch =
        opts_.group ? rows_of(globals[m], dist::shard_range(cfg_.train.batch, rank(), world))
                    : globals[m];
    const int shards = shard_count(static_cast<int>(batch.inputs.size(0)));
    const int parts = world * shards * micro_batches;
    ObjectiveOptions opts;
    opts.forward.n_loops = loops;
    opts.forward.backprop_depth = at.phase->loops.backprop_depth;
    opts.forward.recompute = cfg_.train.recompute_loops;
    opts.penalty = penalised ? &penalty : nullptr;
    opts.gate = &at.phase->exit_gate;
    const ShardSums sums =
        backward_micro_batch(model_, batch, opts, shards, {parts > 1 ? step_targets : 0.0, parts},
                             penalty.weight, trained);
    stats.loss += sums.loss, stats.ce += sums.ce, stats.penalty += sums.penalty;
  }
  stats.loops = stats.micro_loops.front();
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
  adamw_update(*optimizer_, adamw_kernel_);
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
