#include "sdpa_attention.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include "fused_attention.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/kernels/precision.hpp"

#if TORCH_VERSION_MAJOR >= 2
#define STARS_HAS_SDPA 1
#else
#define STARS_HAS_SDPA 0
#endif

namespace stars::kernels {

bool sdpa_attention_compiled() {
  return STARS_HAS_SDPA;
}

bool use_sdpa_attention(const torch::Tensor& qkv, std::int64_t cached_length, bool dropout_active) {
  return sdpa_attention_compiled() && qkv.is_cuda() && cached_length == 0 && !dropout_active &&
         !ComposedOpsGuard::active() && !TwiceDifferentiatedGuard::active();
}

torch::Tensor sdpa_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads) {
#if STARS_HAS_SDPA
  const auto B = qkv.size(0), T = qkv.size(1);
  const bool bf16 = matmul_precision() == Precision::bf16;
  const auto [q, k, v] = split_heads(bf16 ? qkv.to(torch::kBFloat16) : qkv, n_heads);
  auto out = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                              /*is_causal=*/true);  // (B, nh, T, hs)
  return out.transpose(1, 2).reshape({B, T, -1}).to(qkv.scalar_type());
#else
  (void)n_heads;
  TORCH_CHECK(false, "sdpa_causal_attention: LibTorch ", TORCH_VERSION,
              " has no scaled_dot_product_attention (2.0 or newer needed); got a ",
              qkv.device().str(), " tensor");
#endif
}

}  // namespace stars::kernels
