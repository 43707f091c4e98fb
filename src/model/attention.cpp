#include "stars/model/attention.hpp"

#include <torch/torch.h>

#include "kernels/fused_attention.hpp"
#include "kernels/linear.hpp"
#include "kernels/sdpa_attention.hpp"
#include "stars/model/attention_probe.hpp"

namespace stars {

namespace {

/// x·cos + rotate_half(x)·sin at the angles (…, T, 1, dim) of each position's frequencies.
torch::Tensor rotate(const torch::Tensor& x, const torch::Tensor& freqs) {
  const auto angles = torch::cat({freqs, freqs}, -1).unsqueeze(-2);
  const auto halves = x.chunk(2, -1);
  const auto rotated = torch::cat({-halves[1], halves[0]}, -1);
  return x * angles.cos().to(x.scalar_type()) + rotated * angles.sin().to(x.scalar_type());
}

torch::Tensor inverse_frequencies(const torch::Tensor& x, double theta) {
  const auto dim = x.size(3);
  const auto f32 = x.options().dtype(torch::kFloat);
  return 1.0 / torch::pow(theta, torch::arange(0, dim, 2, f32.dtype(torch::kLong)).to(f32) / dim);
}

}  // namespace

torch::Tensor rotary_embedding(const torch::Tensor& x, std::int64_t offset, double theta) {
  const auto inv_freq = inverse_frequencies(x, theta);
  const auto positions = torch::arange(offset, offset + x.size(1), inv_freq.options());
  return rotate(x, torch::outer(positions, inv_freq).unsqueeze(0));  // (1, T, dim / 2)
}

torch::Tensor rotary_embedding(const torch::Tensor& x, const torch::Tensor& positions,
                               double theta) {
  const auto inv_freq = inverse_frequencies(x, theta);
  return rotate(x, positions.to(inv_freq.options()).unsqueeze(-1) * inv_freq);  // (B, T, dim / 2)
}

torch::Tensor row_positions(const torch::Tensor& left_pad, std::int64_t offset, std::int64_t T) {
  return torch::arange(offset, offset + T, left_pad.options()).unsqueeze(0) - left_pad.unsqueeze(1);
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelConfig& cfg)
    : n_heads_(cfg.n_heads),
      n_kv_heads_(cfg.n_kv_heads > 0 ? cfg.n_kv_heads : cfg.n_heads),
      head_dim_(cfg.d_model / cfg.n_heads),
      rope_(cfg.positions == Positions::rope),
      rope_theta_(cfg.rope_theta) {
  const std::int64_t d = cfg.d_model, kv = n_kv_heads_ * head_dim_;
  qkv = register_module("qkv",
                        torch::nn::Linear(torch::nn::LinearOptions(d, d + 2 * kv).bias(cfg.bias)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(cfg.bias)));
  drop_ = register_module("drop", torch::nn::Dropout(cfg.dropout));
}

namespace {
ModelConfig plain_attention(int d_model, int n_heads, double dropout) {
  ModelConfig cfg;
  cfg.d_model = d_model, cfg.n_heads = n_heads, cfg.dropout = dropout;
  return cfg;
}
}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int d_model, int n_heads, double dropout)
    : CausalSelfAttentionImpl(plain_attention(d_model, n_heads, dropout)) {}

torch::Tensor CausalSelfAttentionImpl::project(const torch::Tensor& x, std::int64_t offset,
                                               const torch::Tensor& left_pad) {
  auto packed = kernels::linear(x, qkv);
  if (!rope_ && n_kv_heads_ == n_heads_) return packed;
  const auto B = x.size(0), T = x.size(1), kv = n_kv_heads_ * head_dim_;
  const auto parts = packed.split_with_sizes({n_heads_ * head_dim_, kv, kv}, -1);
  auto q = parts[0].view({B, T, n_heads_, head_dim_});
  auto k = parts[1].view({B, T, n_kv_heads_, head_dim_});
  auto v = parts[2].view({B, T, n_kv_heads_, head_dim_});
  if (rope_ && left_pad.defined()) {
    const auto positions = row_positions(left_pad, offset, T);
    q = rotary_embedding(q, positions, rope_theta_);
    k = rotary_embedding(k, positions, rope_theta_);
  } else if (rope_) {
    q = rotary_embedding(q, offset, rope_theta_);
    k = rotary_embedding(k, offset, rope_theta_);
  }
  auto per_query_head = [&](const torch::Tensor& t) {  // kv head j serves query heads j·r..
    const auto r = n_heads_ / n_kv_heads_;
    return t.unsqueeze(3).expand({B, T, n_kv_heads_, r, head_dim_}).reshape({B, T, -1});
  };
  return torch::cat({q.reshape({B, T, -1}), per_query_head(k), per_query_head(v)}, -1);
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, KVCache* cache) {
  const torch::Tensor left_pad = cache ? cache->left_pad : torch::Tensor();
  auto packed = project(x, cache ? cache->length() : 0, left_pad);  // (B, T, 3D)
  if (auto* probe = AttentionProbe::active(); probe && !(cache && cache->length() > 0))
    probe->record(packed, n_heads_);
  const bool dropout_active = is_training() && drop_->options.p() > 0;
  const std::int64_t past = cache ? cache->length() : 0;
  const bool sdpa = kernels::use_sdpa_attention(packed, past, dropout_active);
  if (!left_pad.defined() && (sdpa || kernels::use_fused_attention(packed, past, dropout_active))) {
    if (cache) {
      const auto heads = kernels::split_heads(packed, n_heads_);
      cache->k = heads[1], cache->v = heads[2];
    }
    const auto heads = sdpa ? kernels::sdpa_causal_attention(packed, n_heads_)
                            : kernels::fused_causal_attention(packed, n_heads_);
    return kernels::linear(heads, proj);
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
  return kernels::matmul_causal_attention(
      q, k, v, [&](const torch::Tensor& p) { return drop_(p); },
      cache ? cache->left_pad : torch::Tensor());
}

}  // namespace stars
