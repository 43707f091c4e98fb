#include "stars/model/looplm.hpp"

#include <optional>

#include <torch/torch.h>

#include "kernels/linear.hpp"
#include "loop_recompute.hpp"
#include "stars/config/errors.hpp"
#include "token_exit_state.hpp"

namespace stars {
namespace {

torch::nn::ModuleList make_layers(const ModelConfig& cfg, int n) {
  torch::nn::ModuleList list;
  for (int i = 0; i < n; ++i) list->push_back(TransformerLayer(cfg));
  return list;
}

torch::Tensor run_layers(torch::nn::ModuleList& layers, torch::Tensor x,
                         std::vector<KVCache>* cache) {
  if (cache && cache->size() < layers->size()) cache->resize(layers->size());
  for (std::size_t i = 0; i < layers->size(); ++i)
    x = layers[i]->as<TransformerLayer>()->forward(x, cache ? &(*cache)[i] : nullptr);
  return x;
}

}  // namespace

LoopLMImpl::LoopLMImpl(const ModelConfig& cfg, std::int64_t vocab_size)
    : cfg_(cfg), vocab_size_(vocab_size) {
  tok_emb = register_module("tok_emb", torch::nn::Embedding(vocab_size, cfg.d_model));
  if (cfg.positions == Positions::learned)
    pos_emb = register_module("pos_emb", torch::nn::Embedding(cfg.max_len, cfg.d_model));
  drop_ = register_module("drop", torch::nn::Dropout(cfg.dropout));
  prelude = register_module("prelude", make_layers(cfg, cfg.n_prelude_layers));
  core = register_module("core", make_layers(cfg, cfg.n_core_layers));
  coda = register_module("coda", make_layers(cfg, cfg.n_coda_layers));
  if (cfg.inject == Injection::concat)
    inject_proj = register_module("inject_proj", torch::nn::Linear(2 * cfg.d_model, cfg.d_model));
  norm_f = register_module("norm_f", Norm(cfg.norm_type, cfg.d_model, cfg.norm_eps));
  if (!cfg.tied_head)
    head = register_module(
        "head", torch::nn::Linear(torch::nn::LinearOptions(cfg.d_model, vocab_size).bias(false)));
  if (cfg.exit_gate) exit_gate = register_module("exit_gate", torch::nn::Linear(cfg.d_model, 1));
  init_weights();
}

void LoopLMImpl::init_weights() {
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, cfg_.init_std);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::Embedding>()) {
      emb->weight.normal_(0.0, cfg_.init_std);
    }
  }
}

torch::Tensor LoopLMImpl::embed(const torch::Tensor& tokens, std::int64_t offset,
                                std::vector<KVCache>* cache, const torch::Tensor& left_pad) {
  const auto T = tokens.size(1);
  if (offset + T > cfg_.max_len)
    throw DataError("sequence of " + std::to_string(offset + T) +
                    " tokens exceeds model.max_len = " + std::to_string(cfg_.max_len));
  auto x = tok_emb(tokens);           // (B, T, D)
  if (pos_emb && left_pad.defined())  // padding takes position 0; no real token sees it
    x = x + pos_emb(row_positions(left_pad, offset, T).clamp_min(0));
  else if (pos_emb)
    x = x + pos_emb(torch::arange(offset, offset + T, tokens.options()));
  return run_layers(prelude, drop_(x), cache);
}

torch::Tensor LoopLMImpl::core_step(const torch::Tensor& h, const torch::Tensor& e,
                                    std::vector<KVCache>* cache) {
  torch::Tensor x = h;
  switch (cfg_.inject) {
    case Injection::none:
      break;
    case Injection::add:
      x = h + e;
      break;
    case Injection::concat:
      x = kernels::linear(torch::cat({h, e}, -1), inject_proj);
      break;
  }
  x = run_layers(core, x, cache);
  return cfg_.norm_in_loop ? norm_f(x) : x;
}

std::vector<torch::Tensor> LoopLMImpl::core_step_parameters() const {
  std::vector<torch::Tensor> out = core->parameters();
  if (inject_proj) {
    const auto inject = inject_proj->parameters();
    out.insert(out.end(), inject.begin(), inject.end());
  }
  if (cfg_.norm_in_loop) {
    const auto norm = norm_f->parameters();
    out.insert(out.end(), norm.begin(), norm.end());
  }
  return out;
}

torch::Tensor LoopLMImpl::readout(const torch::Tensor& h, std::vector<KVCache>* cache) {
  auto x = run_layers(coda, h, cache);
  if (!cfg_.norm_in_loop) x = norm_f(x);
  if (head) return kernels::linear(x, head);
  return kernels::linear(x, tok_emb->weight);  // (B, T, V)
}

StateMap LoopLMImpl::state_map(const torch::Tensor& e) {
  torch::Tensor fixed_input = e.detach();
  return [this, fixed_input](const torch::Tensor& h) { return core_step(h, fixed_input); };
}

namespace {

/// Truncated backpropagation through depth: with backprop_depth k > 0, only the last k of
/// the t loops build an autograd graph.
bool loop_builds_graph(int loop, const ForwardOptions& opts) {
  return opts.backprop_depth <= 0 || loop >= opts.n_loops - opts.backprop_depth;
}

/// Adaptive exit: a sequence stops looping (keeps its state) once one loop moves it by less
/// than `tol`, relatively; the loops each sequence ran are counted.
class AdaptiveExit {
 public:
  AdaptiveExit(const torch::Tensor& h0, double tol, const torch::Tensor& positions, LoopOutput& out)
      : tol_(tol), positions_(positions) {
    active_ = torch::ones({h0.size(0)}, h0.options().dtype(torch::kBool));
    out.loops_used = torch::zeros({h0.size(0)}, h0.options().dtype(torch::kLong));
  }
  /// The state after this loop: `next` for sequences still looping, `h` for the rest.
  torch::Tensor step(const torch::Tensor& h, const torch::Tensor& next, LoopOutput& out) {
    const auto residual = relative_residual(next, h, positions_);  // (B)
    auto kept = torch::where(active_.view({-1, 1, 1}), next, h);
    out.loops_used += active_.to(torch::kLong);
    active_ = active_.logical_and(residual >= tol_);
    return kept;
  }

 private:
  double tol_;
  torch::Tensor positions_;  // (B, T) bool: the real positions; undefined: all
  torch::Tensor active_;     // (B) bool
};

/// The cache of loop `loop`'s core layers (null without a decode cache).
std::vector<KVCache>* loop_cache(DecodeCache* cache, int loop) {
  return cache ? &cache->core[static_cast<std::size_t>(loop)] : nullptr;
}

}  // namespace

torch::Tensor relative_residual(const torch::Tensor& next, const torch::Tensor& prev,
                                const torch::Tensor& positions) {
  if (positions.defined()) {
    const auto keep = positions.unsqueeze(-1).to(next.dtype());
    return relative_residual(next * keep, prev * keep);
  }
  return (next - prev).flatten(1).norm(2, 1) / (prev.flatten(1).norm(2, 1) + 1e-12);
}

namespace {

/// The real (not padding) positions of this forward's tokens: (B, T) bool, or undefined
/// without padding.
torch::Tensor real_positions(const DecodeCache* cache, std::int64_t T) {
  if (!cache || !cache->left_pad.defined()) return {};
  return row_positions(cache->left_pad, cache->length, T) >= 0;
}

/// Gives every layer cache of `cache` the batch's left padding, creating them first.
void share_padding(DecodeCache& cache, const ModelConfig& cfg, int n_loops) {
  auto fill = [&](std::vector<KVCache>& layers, int n) {
    if (layers.size() < static_cast<std::size_t>(n)) layers.resize(static_cast<std::size_t>(n));
    for (auto& c : layers) c.left_pad = cache.left_pad;
  };
  fill(cache.prelude, cfg.n_prelude_layers);
  fill(cache.coda, cfg.n_coda_layers);
  if (cache.core.size() < static_cast<std::size_t>(n_loops))
    cache.core.resize(static_cast<std::size_t>(n_loops));
  for (auto& loop : cache.core) fill(loop, cfg.n_core_layers);
}

}  // namespace

torch::Tensor LoopLMImpl::run_loops(const ForwardOptions& opts, LoopOutput& out) {
  if (opts.exit_tol > 0 && opts.token_exit.on())
    throw std::invalid_argument(
        "adaptive exit: choose exit_tol (per sequence) or token_exit "
        "(per token), not both");
  if (opts.cache && opts.cache->core.size() < static_cast<std::size_t>(opts.n_loops))
    opts.cache->core.resize(static_cast<std::size_t>(opts.n_loops));
  std::optional<AdaptiveExit> adaptive_exit;
  if (opts.exit_tol > 0)
    adaptive_exit.emplace(out.input, opts.exit_tol, real_positions(opts.cache, out.input.size(1)),
                          out);
  std::optional<TokenExitState> token_exit;
  if (opts.token_exit.on() && opts.n_loops > 0)
    token_exit.emplace(*this, opts.token_exit, out.input, opts.cache, opts.n_loops);
  torch::Tensor h = out.input;
  for (int i = 0; i < opts.n_loops; ++i) {
    std::optional<torch::NoGradGuard> no_graph;
    if (!loop_builds_graph(i, opts)) no_graph.emplace();
    // Φ(h_i); recomputed loops keep no activations (a decode cache is never recomputed).
    torch::Tensor next = opts.recompute && !opts.cache && !no_graph
                             ? recomputed_core_step(*this, h, out.input)
                             : core_step(h, out.input, loop_cache(opts.cache, i));
    if (adaptive_exit)
      h = adaptive_exit->step(h, next, out);
    else if (token_exit)
      h = token_exit->step(h, next, i);
    else
      h = next;
    if (opts.keep_states) out.states.push_back(h);
  }
  out.state = h;
  if (!token_exit) return {};
  out.token_loops = token_exit->loops();
  return token_exit->expected_logits();
}

LoopOutput LoopLMImpl::forward(const torch::Tensor& tokens, const ForwardOptions& opts) {
  DecodeCache* cache = opts.cache;
  const std::int64_t offset = cache ? cache->length : 0;
  LoopOutput out;
  if (cache && cache->left_pad.defined()) share_padding(*cache, cfg_, opts.n_loops);
  out.input = embed(tokens, offset, cache ? &cache->prelude : nullptr,
                    cache ? cache->left_pad : torch::Tensor());
  if (opts.keep_states) out.states.push_back(out.input);
  const torch::Tensor expected = run_loops(opts, out);
  out.logits = readout(out.state, cache ? &cache->coda : nullptr);  // also fills the cache
  if (expected.defined()) out.logits = expected;
  if (cache) cache->length += tokens.size(1);
  return out;
}

namespace {

double norm_parameters(NormType type, double d) {
  switch (type) {
    case NormType::layernorm:
      return 2 * d;
    case NormType::rmsnorm:
      return d;
    case NormType::simplenorm:
      return 0;
  }
  return 0;
}

}  // namespace

double parameter_count(const ModelConfig& cfg, std::int64_t vocab_size) {
  // In double: a config's sizes may be hostile (a file's), and this must not overflow.
  const double d = cfg.d_model, f = cfg.d_ff, b = cfg.bias ? 1 : 0;
  const double kv = (cfg.n_kv_heads > 0 ? cfg.n_kv_heads : cfg.n_heads) * (d / cfg.n_heads);
  const double attention = d * (d + 2 * kv) + b * (d + 2 * kv) + d * d + b * d;  // qkv, proj
  const double mlp = cfg.mlp == MlpKind::gelu ? d * f + b * f + f * d + b * d    // fc and out
                                              : 2 * (d * f + b * f) + f * d + b * d;
  const int norms = (cfg.norm_placement != NormPlacement::post ? 2 : 0) +
                    (cfg.norm_placement != NormPlacement::pre ? 2 : 0);
  const double layer = attention + mlp + norms * norm_parameters(cfg.norm_type, d);
  const double layers = 1.0 * cfg.n_prelude_layers + cfg.n_core_layers + cfg.n_coda_layers;
  const double inject = cfg.inject == Injection::concat ? 2 * d * d + d : 0;
  const double positions = cfg.positions == Positions::learned ? cfg.max_len * d : 0;
  const double head = cfg.tied_head ? 0 : static_cast<double>(vocab_size) * d;
  const double gate = cfg.exit_gate ? d + 1 : 0;
  return static_cast<double>(vocab_size) * d + positions + layers * layer + inject +
         norm_parameters(cfg.norm_type, d) + head + gate;
}

std::int64_t count_parameters(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace stars
