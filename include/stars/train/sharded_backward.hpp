#pragma once
// Gradients of a batch split into shards that run concurrently inside one process: each
// shard's forward and backward runs on its own LibTorch thread with single-threaded ops, so
// the small matmuls of a looped block are not split across cores (two single-threaded
// halves beat one two-threaded step; docs/performance.md).
#include <functional>
#include <vector>

#include <torch/types.h>

namespace stars {

/// One shard's loss (a scalar tensor with a graph) and its parts for logging.
struct ShardLoss {
  torch::Tensor loss;
  double ce = 0, penalty = 0;
};

/// The shards' loss parts, summed.
struct ShardSums {
  double loss = 0, ce = 0, penalty = 0;
};

/// Calls loss_of(k) for k in [0, shards), concurrently when shards > 1 and LibTorch has more
/// than one thread, and sets each weight's .grad to the sum over shards of d loss_k / d
/// weight, added in shard order so that the result does not depend on thread scheduling.
/// With one shard this is loss.backward() restricted to `weights`. loss_of must not use
/// torch's default generator when shards > 1 (the draw order would vary between runs).
ShardSums sharded_backward(int shards, const std::function<ShardLoss(int)>& loss_of,
                           const std::vector<torch::Tensor>& weights);

}  // namespace stars
