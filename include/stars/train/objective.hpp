#pragma once
// The STARS training objective on one batch at t loops:
//   h_t = Φ^t(e)                                   the model run for t loops
//   CE  = cross-entropy on the answer tokens
//   R   = |P v|² at h_t, P = J or Jᵀ = ∂Φ/∂h, v from power iteration (the Jacobian penalty);
//         optionally on a fraction of the rows, at Φ^k(h_t) (settle_loops k, no gradient)
//   L   = (1 − λ)·CE + λ·R
// Batch shards and data parallelism (train/train_step.cpp) reweight the same terms.
#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/data/batch.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

/// The Jacobian penalty R from `cfg`: mean over samples of |u|² (square) or
/// max(0, |u| − target)² (hinge), u the last power-iteration product at `state`.
/// Differentiable only in f's weights. `start`: the power iteration's first vector
/// (shaped like state); undefined: drawn from torch's default generator.
torch::Tensor jacobian_penalty(const StateMap& f, const torch::Tensor& state,
                               const JacobianPenaltyConfig& cfg, const torch::Tensor& start = {});

/// (1 − weight)·ce + weight·penalty.
torch::Tensor mix_loss(const torch::Tensor& ce, const torch::Tensor& penalty, double weight);

/// Mean cross-entropy over the target positions (answer tokens) of `targets`.
torch::Tensor answer_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

/// Rows of a batch of `batch_rows` the penalty is computed on: ceil(cfg.rows · batch_rows),
/// at least one.
std::int64_t penalty_rows(const JacobianPenaltyConfig& cfg, std::int64_t batch_rows);

/// `state` moved `loops` applications of f further, without gradient (detached).
torch::Tensor settle(const StateMap& f, torch::Tensor state, int loops);

/// Whether the penalty applies at `step_in_phase` (steps since the phase began) with `loops`.
bool penalty_active(const JacobianPenaltyConfig& cfg, std::int64_t step_in_phase, int loops);

struct ObjectiveOptions {
  ForwardOptions forward;                          // t = forward.n_loops
  const JacobianPenaltyConfig* penalty = nullptr;  // null: CE alone
  torch::Tensor power_start;  // the power iteration's first vector; undefined: drawn
};

/// The objective's value and its terms (penalty undefined when off).
struct Objective {
  torch::Tensor loss, ce, penalty;
};

/// L = (1 − λ)·CE + λ·R for `batch`, with gradients to the model's weights.
Objective stars_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts);

}  // namespace stars
