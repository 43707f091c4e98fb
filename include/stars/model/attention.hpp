#pragma once
// Causal multi-head self-attention with a double backward (the Jacobian penalty
// differentiates through a VJP) and a key/value cache. On the CPU, short sequences take a
// fused kernel; on CUDA with LibTorch >= 2.0, LibTorch's scaled_dot_product_attention,
// except where the graph is differentiated twice (TwiceDifferentiatedGuard); otherwise
// (attention dropout, cached decoding, ComposedOpsGuard) it is written with matmul + softmax.
//
// Rotary embeddings and grouped-query attention act on the projection: queries and keys
// are rotated by their positions and each key/value head is repeated for the query heads
// that share it, giving the packed [Q | K | V] layout of plain multi-head attention that the
// kernels, the cache and the attention probe all take. (The cache so holds one key and value
// per query head.)
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"

namespace stars {

/// Keys and values of the positions seen so far: (B, n_heads, T_past, head_dim) each.
/// For a batch of prompts of different lengths, left-padded to one length, left_pad (B)
/// int64 counts each row's leading pad positions: they are hidden as keys from the row's
/// real positions, and positions are counted from the row's first real token, so that each
/// row computes what it would alone.
struct KVCache {
  torch::Tensor k, v;
  torch::Tensor left_pad;  // undefined: no padding
  std::int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& cfg);
  /// Plain multi-head attention with biases and no rotary positions.
  CausalSelfAttentionImpl(int d_model, int n_heads, double dropout);
  /// x: (B, T, D) -> (B, T, D). With a cache, x holds only the new positions, which
  /// attend to the cached ones; the cache is extended with them.
  torch::Tensor forward(const torch::Tensor& x, KVCache* cache = nullptr);

  torch::nn::Linear qkv{nullptr};   // (D) -> (D + 2 · n_kv_heads · head_dim)
  torch::nn::Linear proj{nullptr};  // (D) -> (D)

  /// The packed (B, T, 3D) [Q | K | V] of x, whose first position is `offset` (less each
  /// row's left_pad, when given): queries and keys rotated (RoPE), key/value heads repeated
  /// (GQA).
  torch::Tensor project(const torch::Tensor& x, std::int64_t offset,
                        const torch::Tensor& left_pad = {});

 private:
  /// Attention from matmul + softmax over the packed projection, using and extending cache.
  torch::Tensor attend(const torch::Tensor& packed, KVCache* cache);

  std::int64_t n_heads_, n_kv_heads_, head_dim_;
  bool rope_;
  double rope_theta_;
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

/// Rotary position embedding of x (B, T, heads, head_dim) at positions offset..offset+T−1:
/// x·cos(pθ) + rotate_half(x)·sin(pθ), θ_i = theta^(−2i/head_dim), the angles computed in
/// float32 and the halves [x1 | x2] rotated to [−x2 | x1] (the Hugging Face convention).
torch::Tensor rotary_embedding(const torch::Tensor& x, std::int64_t offset, double theta);
/// The same at per-row positions (B, T) int64.
torch::Tensor rotary_embedding(const torch::Tensor& x, const torch::Tensor& positions,
                               double theta);

/// Positions offset..offset+T−1 of each row counted from its first real token: (B, T) int64,
/// negative on padding.
torch::Tensor row_positions(const torch::Tensor& left_pad, std::int64_t offset, std::int64_t T);

}  // namespace stars
