#pragma once
// The looped language model:
//   h0 = prelude(drop(tok_emb(x) + pos_emb(p)))       e = h0 (the embedded input)
//   h_{i+1} = core(inject(h_i, e))                    (i < t; one shared block, t calls)
//   logits = norm_f(coda(h_t)) @ tok_emb.weight^T     (head tied to the token embedding)
// With t = 0 the prelude output goes straight to the coda and head. The options of
// pretrained LoopLMs change three things: with rotary positions there is no pos_emb (the
// attention rotates queries and keys); with norm_in_loop each loop ends in norm_f,
// h_{i+1} = norm_f(core(inject(h_i, e))), and the readout applies no norm of its own (Ouro);
// an untied head is a linear map of its own.
#include <functional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"
#include "stars/model/layer.hpp"
#include "stars/model/token_exit.hpp"

namespace stars {

/// Key/value caches for incremental decoding: one per layer, and for the core one per loop.
/// For prompts of different lengths in one batch, set left_pad (B) int64 before the first
/// forward: each row's leading pad positions (see KVCache).
struct DecodeCache {
  std::vector<KVCache> prelude, coda;
  std::vector<std::vector<KVCache>> core;  // [loop][layer]
  std::int64_t length = 0;                 // positions already cached
  torch::Tensor left_pad;                  // undefined: every row starts at position 0
};

struct ForwardOptions {
  int n_loops = 4;
  bool keep_states = false;  // also return the state after every loop
  int backprop_depth = 0;    // > 0: only the last k loops build an autograd graph
  // Loops that build a graph keep only their input state and recompute their activations
  // in the backward pass (src/model/loop_recompute.hpp); decoding never does.
  bool recompute = false;
  DecodeCache* cache = nullptr;
  double exit_tol = 0;   // > 0: a sequence stops looping once |h_i - h_{i-1}| / |h_{i-1}| < tol
  TokenExit token_exit;  // per-token exit (stars/model/token_exit.hpp); not with exit_tol
};

struct LoopOutput {
  torch::Tensor logits;               // (B, T, V)
  torch::Tensor state;                // (B, T, D): h_t, the final loop state
  torch::Tensor input;                // (B, T, D): e, the embedded input
  std::vector<torch::Tensor> states;  // h_0 .. h_t when keep_states
  torch::Tensor loops_used;           // (B) int64: loops each sequence ran (exit_tol > 0)
  torch::Tensor token_loops;          // (B, T) int64: loops each position ran (token_exit)
};

/// The state map Φ for a fixed input: h -> core(inject(h, e)).
using StateMap = std::function<torch::Tensor(const torch::Tensor&)>;

class LoopLMImpl : public torch::nn::Module {
 public:
  LoopLMImpl(const ModelConfig& cfg, std::int64_t vocab_size);

  /// tokens: (B, T) int64.
  LoopOutput forward(const torch::Tensor& tokens, const ForwardOptions& opts);
  LoopOutput forward(const torch::Tensor& tokens, int n_loops) {
    ForwardOptions o;
    o.n_loops = n_loops;
    return forward(tokens, o);
  }

  /// Embedding and prelude: (B, T) -> (B, T, D), positions starting at `offset` (less each
  /// row's left_pad, when given).
  torch::Tensor embed(const torch::Tensor& tokens, std::int64_t offset = 0,
                      std::vector<KVCache>* cache = nullptr, const torch::Tensor& left_pad = {});
  /// One application of the shared core Φ with input injection (and the final norm when it
  /// sits in the loop): (B, T, D) -> (B, T, D).
  torch::Tensor core_step(const torch::Tensor& h, const torch::Tensor& e,
                          std::vector<KVCache>* cache = nullptr);
  /// The weights core_step reads: the core layers', the concat injection's and the final
  /// norm's where it sits in the loop.
  std::vector<torch::Tensor> core_step_parameters() const;
  /// Coda, final norm (unless in the loop) and head: (B, T, D) -> (B, T, V).
  torch::Tensor readout(const torch::Tensor& h, std::vector<KVCache>* cache = nullptr);
  /// Φ at a fixed input e (detached, so only the core receives gradients through it).
  StateMap state_map(const torch::Tensor& e);

  const ModelConfig& config() const { return cfg_; }
  std::int64_t vocab_size() const { return vocab_size_; }

  torch::nn::Embedding tok_emb{nullptr};  // (V, D), also the head unless untied
  torch::nn::Embedding pos_emb{nullptr};  // (max_len, D); learned positions only
  torch::nn::Linear head{nullptr};        // (D) -> (V), untied heads only
  torch::nn::Linear exit_gate{nullptr};   // (D) -> (1), models with an exit gate only
  torch::nn::ModuleList prelude{nullptr}, core{nullptr}, coda{nullptr};
  torch::nn::Linear inject_proj{nullptr};  // (2D) -> (D), concat injection only
  Norm norm_f{nullptr};

 private:
  void init_weights();
  /// h_{i+1} = Φ(h_i) for i < t from h_0 = out.input, filling out.state, out.states,
  /// out.loops_used and out.token_loops. Returns the gate-weighted logits with the expected
  /// exit rule, else an undefined tensor.
  torch::Tensor run_loops(const ForwardOptions& opts, LoopOutput& out);

  ModelConfig cfg_;
  std::int64_t vocab_size_;
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(LoopLM);

/// |next − prev| / |prev| per sequence, over all positions and features: (B, T, D) -> (B).
/// How far one more loop moves the state; adaptive exit and diagnostics both read it.
/// `positions` (B, T) bool, when given, restricts it to those positions (not padding).
torch::Tensor relative_residual(const torch::Tensor& next, const torch::Tensor& prev,
                                const torch::Tensor& positions = {});

/// Number of trainable parameters a LoopLM of this shape has (count_parameters of one),
/// computed from the config without building it; in double (exact below 2^53), so that
/// any config, however large, gives a number.
double parameter_count(const ModelConfig& cfg, std::int64_t vocab_size);

/// Number of trainable parameters.
std::int64_t count_parameters(const torch::nn::Module& m);

}  // namespace stars
