#pragma once
// The running side of per-token exit (stars/model/token_exit.hpp): which positions still
// loop, how many loops each ran, and, for the gate, its running exit distribution.
#include <torch/types.h>

#include "stars/model/looplm.hpp"
#include "stars/model/token_exit.hpp"

namespace stars {

class TokenExitState {
 public:
  /// For a forward of `n_loops` loops from h0 (B, T, D); `cache` is the forward's decode
  /// cache (null without one): readouts taken between loops leave it as it was.
  TokenExitState(LoopLMImpl& model, const TokenExit& rule, const torch::Tensor& h0,
                 DecodeCache* cache, int n_loops);

  /// The state after loop `loop` (0-based): `next` where the position still loops, `h`
  /// (its exit state) where it has stopped; then decides which positions stop here.
  torch::Tensor step(const torch::Tensor& h, const torch::Tensor& next, int loop);

  /// Loops each position ran: (B, T) int64.
  const torch::Tensor& loops() const { return loops_; }
  /// With the expected rule: Σ_t p_t · logits_t (B, T, V); otherwise undefined.
  const torch::Tensor& expected_logits() const { return expected_; }

 private:
  /// (B, T) bool: positions whose criterion holds at the state `next`.
  torch::Tensor criterion_met(const torch::Tensor& h, const torch::Tensor& next, int loop);
  /// log-softmax of the logits at `state`, through a copy of the coda's cache.
  torch::Tensor log_probs(const torch::Tensor& state);
  torch::Tensor peek_logits(const torch::Tensor& state);

  LoopLMImpl& model_;
  TokenExit rule_;
  DecodeCache* cache_;
  int n_loops_;
  torch::Tensor active_;      // (B, T) bool
  torch::Tensor loops_;       // (B, T) int64
  torch::Tensor prev_logp_;   // kl, entropy: log p at the previous loop's state
  torch::Tensor survive_;     // gate, expected: Π_{s<t} (1 − λ_s)
  torch::Tensor cumulative_;  // gate: Σ_{s≤t} p_s
  torch::Tensor expected_;    // expected: Σ_{s≤t} p_s · logits_s
};

}  // namespace stars
