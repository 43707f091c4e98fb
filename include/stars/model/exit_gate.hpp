#pragma once
// Ouro's learned exit: a gate maps the state after loop t to a logit, λ_t = σ(gate(h_t)) is
// the probability of stopping at t given that no earlier loop stopped, and
//   p_t = λ_t Π_{s<t} (1 − λ_s)   (t < T),     p_T = Π_{s<T} (1 − λ_s)
// is the exit distribution over the T loops run (the last loop takes the remaining mass, so
// the p_t sum to one).
#include <vector>

#include <torch/types.h>

#include "stars/model/looplm.hpp"

namespace stars {

/// λ_t for every position: σ(exit_gate(state)), (B, T, D) -> (B, T). Throws
/// std::invalid_argument for a model without an exit gate.
torch::Tensor exit_probability(LoopLM& model, const torch::Tensor& state);
torch::Tensor exit_probability(LoopLMImpl& model, const torch::Tensor& state);

/// The exit distribution from the per-loop λ_1..λ_T (each (B, T)): (T, B, T'), summing to
/// one over the first axis.
torch::Tensor exit_distribution(const std::vector<torch::Tensor>& lambdas);

}  // namespace stars
