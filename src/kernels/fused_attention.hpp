#pragma once
// Causal self-attention fused into one CPU kernel per (sequence, head), for the short
// sequences of looped-LM tasks. It reads queries, keys and values straight from the packed
// qkv projection and writes the heads already merged, so no transposes or copies are made,
// and it has an analytic double backward (the Jacobian penalty differentiates through a VJP).
#include <array>
#include <functional>

#include <torch/types.h>

namespace stars::kernels {

/// The longest sequence the fused kernel takes; longer ones use the matmul + softmax form.
constexpr std::int64_t kFusedAttentionMaxLength = 256;

/// True when fused_causal_attention can compute attention over qkv: a CPU float or double
/// tensor (B, T, 3D) with T up to kFusedAttentionMaxLength.
bool fused_attention_supports(const torch::Tensor& qkv);

/// The one choice of fast path for attention: true when fused_causal_attention computes it,
/// i.e. qkv is supported, no cached prefix is attended to, no dropout applies to the
/// probabilities, and no ComposedOpsGuard asks for elementary ops.
bool use_fused_attention(const torch::Tensor& qkv, std::int64_t cached_length, bool dropout_active);

/// softmax(mask(Q Kᵀ / sqrt(head_dim))) V for every head, from the packed projection
/// qkv = [Q | K | V] of shape (B, T, 3D): returns (B, T, D), differentiable twice.
torch::Tensor fused_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads);

/// Q, K and V of a packed (B, T, 3D) projection as (B, n_heads, T, D / n_heads) views.
std::array<torch::Tensor, 3> split_heads(const torch::Tensor& qkv, std::int64_t n_heads);

/// softmax(mask(q kᵀ / sqrt(head_dim))) v from matmul + softmax (any device, any order of
/// derivative). q: (B, H, T, hs); k, v: (B, H, past + T, hs), where query i sits at position
/// past + i and sees keys 0..past + i. on_probs (dropout) is applied to the probabilities.
/// left_pad (B) int64, when given: row b's first left_pad[b] keys are padding, hidden from
/// every query but their own (so that a padding query still has a key to attend to).
/// Returns the merged heads (B, T, H * hs).
torch::Tensor matmul_causal_attention(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const std::function<torch::Tensor(const torch::Tensor&)>& on_probs = nullptr,
    const torch::Tensor& left_pad = {});

/// fused_causal_attention's result from matmul_causal_attention.
torch::Tensor composed_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads);

}  // namespace stars::kernels
