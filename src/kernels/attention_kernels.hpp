#pragma once
// Per-head kernels of the fused causal attention, over raw pointers. The same source
// (attention_kernels.cpp) is compiled once for the baseline ISA and, on x86-64, once more
// for x86-64-v3 (AVX2 + FMA), chosen at run time; so this interface carries no templates or
// library types whose instantiations the two builds could share.
#include <cstdint>

namespace stars::kernels {

struct AttentionDims {
  std::int64_t B, T, D, H, hs;  // sequences, length, width, heads, head width
};

/// Kernels for one (sequence b, head h). qkv: packed (B, T, 3D) = [Q | K | V];
/// out, dout: merged heads (B, T, D); probs: (B, H, T, T); grads packed like qkv.
template <typename T>
struct AttentionKernelSet {
  /// probs = softmax(mask(Q Kᵀ / sqrt(hs))), out = probs V (this head's columns written).
  void (*forward)(const AttentionDims&, const T* qkv, T* out, T* probs, std::int64_t b,
                  std::int64_t h);
  /// grad = (dQ, dK, dV) given dout (this head's columns written); scratch holds 2T values.
  void (*backward)(const AttentionDims&, const T* qkv, const T* probs, const T* dout, T* grad,
                   std::int64_t b, std::int64_t h, T* scratch);
  /// Given cotangents g of (dQ, dK, dV): g_qkv = their gradient with respect to (Q, K, V)
  /// and g_dout = with respect to dout (this head's columns written); scratch holds 4T values.
  void (*double_backward)(const AttentionDims&, const T* qkv, const T* probs, const T* dout,
                          const T* g, T* g_qkv, T* g_dout, std::int64_t b, std::int64_t h,
                          T* scratch);
};

namespace generic {
AttentionKernelSet<float> attention_kernels_f32(std::int64_t head_width);
AttentionKernelSet<double> attention_kernels_f64(std::int64_t head_width);
}  // namespace generic

#ifdef STARS_KERNELS_X86_64_V3
namespace x86_64_v3 {
AttentionKernelSet<float> attention_kernels_f32(std::int64_t head_width);
AttentionKernelSet<double> attention_kernels_f64(std::int64_t head_width);
}  // namespace x86_64_v3
#endif

}  // namespace stars::kernels
