#include "stars/model/attention.hpp"

#include <cmath>
#include <limits>
#include <tuple>

#include <torch/torch.h>

#include "fused_attention.hpp"
#include "stars/model/composed_ops.hpp"

namespace stars {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(std::int64_t d_model, std::int64_t n_heads,
                                                 double dropout)
    : n_heads_(n_heads) {
  qkv = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  proj = register_module("proj", torch::nn::Linear(d_model, d_model));
  drop_ = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache) {
  auto packed = qkv(x);  // (B, T, 3D)
  const std::int64_t past = cache ? cache->length() : 0;
  const bool dropout_active = is_training() && drop_->options.p() > 0;
  if (past == 0 && !dropout_active && !ComposedOpsGuard::active() &&
      detail::fused_attention_supports(packed)) {
    if (cache) std::tie(cache->k, cache->v) = split_heads_kv(packed);
    return proj(detail::fused_causal_attention(packed, n_heads_));
  }
  return proj(attend(packed, cache));
}

std::pair<torch::Tensor, torch::Tensor> CausalSelfAttentionImpl::split_heads_kv(
    const torch::Tensor& packed) const {
  const auto D = packed.size(2) / 3;
  auto parts = packed.split(D, /*dim=*/2);
  return {heads(parts[1]), heads(parts[2])};
}

torch::Tensor CausalSelfAttentionImpl::heads(const torch::Tensor& t) const {
  const auto B = t.size(0), T = t.size(1), D = t.size(2);
  return t.view({B, T, n_heads_, D / n_heads_}).transpose(1, 2);  // (B, nh, T, hs)
}

torch::Tensor CausalSelfAttentionImpl::attend(const torch::Tensor& packed, KVCache* cache) {
  const auto B = packed.size(0), T = packed.size(1), D = packed.size(2) / 3;
  const auto hs = D / n_heads_;
  auto parts = packed.split(D, /*dim=*/2);
  auto q = heads(parts[0]), k = heads(parts[1]), v = heads(parts[2]);  // (B, nh, T, hs)
  const std::int64_t past = cache ? cache->length() : 0;
  if (cache) {
    if (past > 0) {
      k = torch::cat({cache->k, k}, 2);  // (B, nh, past + T, hs)
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hs));
  // Query i sits at absolute position past + i and sees keys 0..past + i.
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(packed.device());
  auto allowed =
      torch::arange(past + T, opts).unsqueeze(0) <= (torch::arange(T, opts) + past).unsqueeze(1);
  att = att.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  att = drop_(torch::softmax(att, -1));                             // (B, nh, T, past + T)
  return torch::matmul(att, v).transpose(1, 2).reshape({B, T, D});  // (B, T, D)
}

}  // namespace stars
