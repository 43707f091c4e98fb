#pragma once
// Causal multi-head self-attention with a double backward (the Jacobian penalty
// differentiates through a VJP) and a key/value cache. On the CPU, short sequences take a
// fused kernel; otherwise (CUDA, attention dropout, cached decoding, ComposedOpsGuard) it is
// written with matmul + softmax.
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace stars {

/// Keys and values of the positions seen so far: (B, n_heads, T_past, head_dim) each.
struct KVCache {
  torch::Tensor k, v;
  std::int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(std::int64_t d_model, std::int64_t n_heads, double dropout);
  /// x: (B, T, D) -> (B, T, D). With a cache, x holds only the new positions, which
  /// attend to the cached ones; the cache is extended with them.
  torch::Tensor forward(const torch::Tensor& x, KVCache* cache = nullptr);

  torch::nn::Linear qkv{nullptr};   // (D) -> (3D)
  torch::nn::Linear proj{nullptr};  // (D) -> (D)

 private:
  /// Attention from matmul + softmax over the packed projection, using and extending cache.
  torch::Tensor attend(const torch::Tensor& packed, KVCache* cache);

  std::int64_t n_heads_;
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace stars
