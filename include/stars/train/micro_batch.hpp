#pragma once
// The gradient of one optimisation step, built from micro-batches (gradient accumulation)
// and, within each, rows split into concurrent shards: each part's cross-entropy is weighted
// by its share of the step's target tokens and its penalty by 1 / (parts in the step), so
// the summed gradients equal those of the objective on all the step's rows at once (at one
// loop count and without the penalty, exactly; tests/train/test_accumulation.cpp).
#include <vector>

#include <torch/types.h>

#include "stars/data/batch.hpp"
#include "stars/train/objective.hpp"
#include "stars/train/sharded_backward.hpp"

namespace stars {

/// How a part of the step counts in the step's objective.
struct StepWeights {
  double step_targets = 0;  // target tokens of the whole step (all micro-batches, all ranks)
  int parts_in_step = 1;    // shards × micro-batches × ranks
};

/// Target tokens of `batch` (positions whose target is not kIgnoreIndex).
double target_tokens(const Batch& batch);

/// Rows [range.first, range.second) of `batch`.
Batch rows_of(const Batch& batch, std::pair<int, int> range);

/// Adds to each of `trained`'s .grad the gradient of `batch`'s share of the step objective
/// (`options` set its loops, penalty and gate), over `shards` concurrent row shards whose
/// power-iteration starts are drawn here in shard order. Returns the shares' loss parts.
ShardSums backward_micro_batch(LoopLM& model, const Batch& batch, ObjectiveOptions options,
                               int shards, const StepWeights& weights, double penalty_weight,
                               const std::vector<torch::Tensor>& trained);

}  // namespace stars
