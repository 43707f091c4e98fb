#include "stars/train/micro_batch.hpp"

#include <torch/torch.h>

#include "stars/dist/data_parallel.hpp"

namespace stars {
namespace {

ShardLoss share_of(const Objective& o, const Batch& part, const StepWeights& weights,
                   double penalty_weight) {
  const torch::Tensor ce =
      weights.step_targets > 0 ? o.ce * (target_tokens(part) / weights.step_targets) : o.ce;
  ShardLoss share{ce, ce.item<double>(), 0.0};
  if (!o.penalty.defined()) return share;
  const torch::Tensor penalty = o.penalty / static_cast<double>(weights.parts_in_step);
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

double target_tokens(const Batch& batch) {
  return (batch.targets != kIgnoreIndex).sum().item<double>();
}

Batch rows_of(const Batch& batch, std::pair<int, int> range) {
  const auto [begin, end] = range;
  return {batch.inputs.narrow(0, begin, end - begin), batch.targets.narrow(0, begin, end - begin)};
}

ShardSums backward_micro_batch(LoopLM& model, const Batch& batch, ObjectiveOptions options,
                               int shards, const StepWeights& weights, double penalty_weight,
                               const std::vector<torch::Tensor>& trained) {
  const int rows = static_cast<int>(batch.inputs.size(0));
  // One shard draws its own start (undefined); concurrent shards get theirs drawn here.
  std::vector<torch::Tensor> starts(static_cast<std::size_t>(shards));
  if (options.penalty != nullptr && shards > 1)
    starts = power_starts(batch, shards, model->config().d_model);
  auto shard_loss = [&](int k) {
    const Batch part = shards > 1 ? rows_of(batch, dist::shard_range(rows, k, shards)) : batch;
    ObjectiveOptions opts = options;
    opts.power_start = starts[static_cast<std::size_t>(k)];
    return share_of(stars_objective(model, part, opts), part, weights, penalty_weight);
  };
  return sharded_backward(shards, shard_loss, trained);
}

}  // namespace stars
