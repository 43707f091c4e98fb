#include "stars/model/attention.hpp"

#include <torch/torch.h>

#include "kernels/fused_attention.hpp"
#include "kernels/linear.hpp"
#include "stars/model/attention_probe.hpp"

namespace stars {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(std::int64_t d_model, std::int64_t n_heads,
                                                 double dropout)
    : n_heads_(n_heads) {
  qkv = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  proj = register_module("proj", torch::nn::Linear(d_model, d_model));
  drop_ = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache) {
  auto packed = kernels::linear(x, qkv);  // (B, T, 3D)
  if (auto* probe = AttentionProbe::active(); probe && !(cache && cache->length() > 0))
    probe->record(packed, n_heads_);
  const bool dropout_active = is_training() && drop_->options.p() > 0;
  if (kernels::use_fused_attention(packed, cache ? cache->length() : 0, dropout_active)) {
    if (cache) {
      const auto heads = kernels::split_heads(packed, n_heads_);
      cache->k = heads[1], cache->v = heads[2];
    }
    return kernels::linear(kernels::fused_causal_attention(packed, n_heads_), proj);
  }
  return kernels::linear(attend(packed, cache), proj);
}

torch::Tensor CausalSelfAttentionImpl::attend(const torch::Tensor& packed, KVCache* cache) {
  auto [q, k, v] = kernels::split_heads(packed, n_heads_);  // (B, nh, T, hs)
  if (cache) {
    if (cache->length() > 0) {
      k = torch::cat({cache->k, k}, 2);  // (B, nh, past + T, hs)
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  return kernels::matmul_causal_attention(q, k, v,
                                          [&](const torch::Tensor& p) { return drop_(p); });
}

}  // namespace stars
