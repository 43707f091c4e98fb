#include "stars/model/looplm.hpp"

#include <optional>

#include <torch/torch.h>

#include "linear.hpp"
#include "stars/config/errors.hpp"

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
  pos_emb = register_module("pos_emb", torch::nn::Embedding(cfg.max_len, cfg.d_model));
  drop_ = register_module("drop", torch::nn::Dropout(cfg.dropout));
  prelude = register_module("prelude", make_layers(cfg, cfg.n_prelude_layers));
  core = register_module("core", make_layers(cfg, cfg.n_core_layers));
  coda = register_module("coda", make_layers(cfg, cfg.n_coda_layers));
  if (cfg.inject == Injection::concat)
    inject_proj = register_module("inject_proj", torch::nn::Linear(2 * cfg.d_model, cfg.d_model));
  norm_f = register_module("norm_f", Norm(cfg.norm_type, cfg.d_model));
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
                                std::vector<KVCache>* cache) {
  const auto T = tokens.size(1);
  if (offset + T > cfg_.max_len)
    throw DataError("sequence of " + std::to_string(offset + T) +
                    " tokens exceeds model.max_len = " + std::to_string(cfg_.max_len));
  auto pos = torch::arange(offset, offset + T, tokens.options());
  auto x = drop_(tok_emb(tokens) + pos_emb(pos));  // (B, T, D)
  return run_layers(prelude, x, cache);
}

torch::Tensor LoopLMImpl::core_step(const torch::Tensor& h, const torch::Tensor& e,
                                    std::vector<KVCache>* cache) {
  switch (cfg_.inject) {
    case Injection::none:
      return run_layers(core, h, cache);
    case Injection::add:
      return run_layers(core, h + e, cache);
    case Injection::concat:
      return run_layers(core, detail::linear(torch::cat({h, e}, -1), inject_proj), cache);
  }
  return h;
}

torch::Tensor LoopLMImpl::readout(const torch::Tensor& h, std::vector<KVCache>* cache) {
  auto x = norm_f(run_layers(coda, h, cache));
  return torch::matmul(x, tok_emb->weight.t());  // (B, T, V)
}

StateMap LoopLMImpl::state_map(const torch::Tensor& e) {
  torch::Tensor fixed_input = e.detach();
  return [this, fixed_input](const torch::Tensor& h) { return core_step(h, fixed_input); };
}

void LoopLMImpl::run_loops(const ForwardOptions& opts, LoopOutput& out) {
  DecodeCache* cache = opts.cache;
  if (cache && cache->core.size() < static_cast<std::size_t>(opts.n_loops))
    cache->core.resize(static_cast<std::size_t>(opts.n_loops));
  const int no_graph_loops =
      opts.backprop_depth > 0 ? std::max(0, opts.n_loops - opts.backprop_depth) : 0;
  const bool adaptive = opts.exit_tol > 0;
  torch::Tensor h = out.input, active;
  if (adaptive) {
    active = torch::ones({h.size(0)}, h.options().dtype(torch::kBool));
    out.loops_used = torch::zeros({h.size(0)}, h.options().dtype(torch::kLong));
  }
  for (int i = 0; i < opts.n_loops; ++i) {
    auto* loop_cache = cache ? &cache->core[static_cast<std::size_t>(i)] : nullptr;
    std::optional<torch::NoGradGuard> no_grad;  // truncated backprop through depth
    if (i < no_graph_loops) no_grad.emplace();
    torch::Tensor next = core_step(h, out.input, loop_cache);
    if (adaptive) {
      // Sequences that have converged keep their state; the rest take the new one.
      const auto residual = (next - h).flatten(1).norm(2, 1) / (h.flatten(1).norm(2, 1) + 1e-12);
      next = torch::where(active.view({-1, 1, 1}), next, h);
      out.loops_used += active.to(torch::kLong);
      active = active.logical_and(residual >= opts.exit_tol);
    }
    h = next;
    if (opts.keep_states) out.states.push_back(h);
  }
  out.state = h;
}

LoopOutput LoopLMImpl::forward(const torch::Tensor& tokens, const ForwardOptions& opts) {
  DecodeCache* cache = opts.cache;
  const std::int64_t offset = cache ? cache->length : 0;
  LoopOutput out;
  out.input = embed(tokens, offset, cache ? &cache->prelude : nullptr);
  if (opts.keep_states) out.states.push_back(out.input);
  run_loops(opts, out);
  out.logits = readout(out.state, cache ? &cache->coda : nullptr);
  if (cache) cache->length += tokens.size(1);
  return out;
}

std::int64_t count_parameters(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace stars
