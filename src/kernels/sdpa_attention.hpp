#pragma once
// Causal attention through LibTorch's at::scaled_dot_product_attention on CUDA (flash or
// memory-efficient kernels, LibTorch >= 2.0), for the loops whose graph is differentiated
// once: those kernels have no double backward, so the Jacobian penalty's products (built
// under a TwiceDifferentiatedGuard) keep the matmul + softmax form.
#include <torch/types.h>

namespace stars::kernels {

/// True where sdpa_causal_attention is compiled in: LibTorch >= 2.0.
bool sdpa_attention_compiled();

/// True when attention over qkv takes sdpa_causal_attention: compiled in, a CUDA tensor, no
/// cached prefix, no dropout, and neither a ComposedOpsGuard nor a TwiceDifferentiatedGuard
/// active on this thread.
bool use_sdpa_attention(const torch::Tensor& qkv, std::int64_t cached_length, bool dropout_active);

/// softmax(mask(Q Kᵀ / sqrt(head_dim))) V from the packed qkv (B, T, 3D) as (B, T, D). Under
/// train.precision = bf16 the kernel reads and writes bfloat16, as autocast runs it (the
/// flash kernel takes 16-bit inputs only); the result is returned in qkv's dtype.
torch::Tensor sdpa_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads);

}  // namespace stars::kernels
