#include "stars/model/attention.hpp"

#include <cmath>

#include <torch/torch.h>

namespace stars {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(std::int64_t d_model, std::int64_t n_heads,
                                                 double dropout)
    : n_heads_(n_heads) {
  qkv = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  proj = register_module("proj", torch::nn::Linear(d_model, d_model));
  drop_ = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache) {
  const auto B = x.size(0), T = x.size(1), D = x.size(2), hs = D / n_heads_;
  auto parts = qkv(x).split(D, /*dim=*/2);
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, n_heads_, hs}).transpose(1, 2); };
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
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  auto allowed =
      torch::arange(past + T, opts).unsqueeze(0) <= (torch::arange(T, opts) + past).unsqueeze(1);
  att = att.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  att = drop_(torch::softmax(att, -1));                               // (B, nh, T, past + T)
  auto y = torch::matmul(att, v).transpose(1, 2).reshape({B, T, D});  // (B, T, D)
  return proj(y);
}

}  // namespace stars
