#pragma once
// Per-token adaptive exit: each position of a sequence stops looping on its own, when one
// more loop stops changing it by the chosen criterion.
//
//   residual   |h_i − h_{i−1}| / |h_{i−1}| over the position's features < threshold
//   kl         KL(p_i ‖ p_{i−1}) between successive loops' next-token distributions < threshold
//   entropy    |H(p_i) − H(p_{i−1})|, the change of that distribution's entropy, < threshold
//   gate       the exit gate's cumulative probability Σ_{s≤i} p_s >= threshold (Ouro)
//   expected   no exit: every loop runs and the logits are Σ_t p_t · logits_t, weighted by
//              the exit gate's distribution (Ouro's expected readout)
//
// The rule for deeper loops: a position that exits at loop s keeps its state h_s, and every
// later loop reads it from there, so the keys and values deeper loops give it are computed
// from h_s (CALM's state propagation). This makes the cached, token-by-token forward equal
// the full forward, and batched rows equal rows run alone, whatever each position's exit.
#include <string>

namespace stars {

enum class ExitCriterion { off, residual, kl, entropy, gate, expected };

struct TokenExit {
  ExitCriterion criterion = ExitCriterion::off;
  double threshold = 0;

  bool on() const { return criterion != ExitCriterion::off; }
  /// Whether the criterion reads the model's exit gate (gate, expected).
  bool needs_gate() const {
    return criterion == ExitCriterion::gate || criterion == ExitCriterion::expected;
  }
  /// (B, T, vocab) tensors a decoding step holds at once: one loop's logits, plus the
  /// previous loop's distribution (kl) or the running exit-weighted sum (expected).
  int logits_kept() const {
    return criterion == ExitCriterion::kl || criterion == ExitCriterion::expected ? 2 : 1;
  }
  /// Whether the criterion reads each loop's next-token distribution (kl, entropy).
  bool needs_logits() const {
    return criterion == ExitCriterion::kl || criterion == ExitCriterion::entropy;
  }
};

/// "residual:1e-3", "kl:1e-4", "entropy:0.01", "gate:0.5", "expected" or "off". Throws
/// ConfigError naming `where`, the text and the valid forms.
TokenExit parse_token_exit(const std::string& spec, const std::string& where);

/// The spec parse_token_exit reads back ("kl:0.0001", "expected", "off").
std::string token_exit_name(const TokenExit& rule);

}  // namespace stars
