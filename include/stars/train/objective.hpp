#pragma once
// The STARS training objective on one batch at t loops:
//   h_t = Φ^t(e)                                   the model run for t loops
//   CE  = cross-entropy on the answer tokens
//   R   = |P v|² at h_t, P = J or Jᵀ = ∂Φ/∂h, v from power iteration (the Jacobian penalty);
//         optionally on a fraction of the rows, at Φ^k(h_t) (settle_loops k, no gradient)
//   L   = (1 − λ)·CE + λ·R
// With an exit gate trained (ExitGateTrainingConfig), CE is replaced by Ouro's stage-one
// loss Σ_t p_t·CE_t − β·H(p), or by the stage-two loss of the gate alone (no penalty).
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

/// Cross-entropy per position (B, T) of logits (B, T, V); 0 where `targets` has no target.
torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

/// Ouro's first stage on the states h_1..h_t after each loop: per target position,
///   Σ_t p_t·CE_t − β·H(p),   p the exit distribution (stars/model/exit_gate.hpp),
/// averaged over the target positions. Gradients reach every weight, the gate's too.
torch::Tensor gate_expected_loss(LoopLM& model, const std::vector<torch::Tensor>& states,
                                 const torch::Tensor& targets, double entropy_weight);

/// Ouro's second stage (its Eq. 5-6), for the gate alone, on the states h_1..h_t after each
/// loop (taken without gradient): with CE_s the per-position loss at loop s,
///   I_s = max(0, CE_{s−1} − CE_s),  w_s = σ(k·(I_s − γ))   (s = 2..t: "loop s was worth it")
///   L   = (1/t) Σ_{s=2..t} mean over target positions of −[w_s·log(1 − λ_s) + (1 − w_s)·log λ_s]
/// as the paper writes it: λ_s is paired with the improvement that led to loop s, and the
/// sum over t − 1 loops is divided by t.
torch::Tensor gate_improvement_loss(LoopLM& model, const std::vector<torch::Tensor>& states,
                                    const torch::Tensor& targets, double scale, double margin);

struct ObjectiveOptions {
  ForwardOptions forward;                          // t = forward.n_loops
  const JacobianPenaltyConfig* penalty = nullptr;  // null: CE alone
  const ExitGateTrainingConfig* gate = nullptr;    // null or off: the plain CE
  torch::Tensor power_start;  // the power iteration's first vector; undefined: drawn
};

/// The objective's value and its terms (penalty undefined when off). With a gate objective,
/// `ce` holds that objective's loss in place of the cross-entropy.
struct Objective {
  torch::Tensor loss, ce, penalty;
};

/// L = (1 − λ)·CE + λ·R for `batch`, with gradients to the model's weights.
Objective stars_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts);

}  // namespace stars
