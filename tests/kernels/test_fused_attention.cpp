// The fused CPU attention kernel against the same attention written with matmul + softmax:
// values, gradients, the double backward the Jacobian penalty uses, and third derivatives.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "kernels/fused_attention.hpp"
#include "kernels/kernel_builds.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/attention.hpp"

namespace stars::kernels {
namespace {

struct Case {
  std::int64_t B, T, D, H;
};

// Head widths 32 and 16 take specialised kernels, 5 and 3 the generic one; T = 1 has a
// single key per query.
const Case kCases[] = {{3, 17, 192, 6}, {2, 9, 32, 2}, {2, 7, 15, 3}, {1, 1, 6, 2}};

using Attention = torch::Tensor (*)(const torch::Tensor&, std::int64_t);

/// Each test runs under the widest kernel build this CPU takes, then the baseline one.
class FusedAttention : public stars::testing::EachKernelBuild {};

STARS_FOR_EACH_KERNEL_BUILD(FusedAttention);

torch::Tensor packed_input(const Case& c, torch::Dtype dtype, std::int64_t seed) {
  torch::manual_seed(seed);
  // Scaled so the softmax is far from uniform and masking matters.
  return (2.0 * torch::randn({c.B, c.T, 3 * c.D}, torch::dtype(dtype))).requires_grad_(true);
}

/// Gradient of <attention(qkv), w> with respect to qkv, with or without a graph.
torch::Tensor grad_of(Attention f, const torch::Tensor& qkv, std::int64_t H, const torch::Tensor& w,
                      bool create_graph) {
  return torch::autograd::grad({f(qkv, H)}, {qkv}, {w}, /*retain_graph=*/true, create_graph)[0];
}

TEST_P(FusedAttention, ForwardMatchesComposedInFloat) {
  for (const auto& c : kCases) {
    auto qkv = packed_input(c, torch::kFloat, 1);
    auto want = composed_causal_attention(qkv, c.H);
    auto got = fused_causal_attention(qkv, c.H);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5))
        << "T=" << c.T << " D=" << c.D << " max diff " << (got - want).abs().max().item<float>();
  }
}

TEST_P(FusedAttention, GradientMatchesComposed) {
  for (const auto& c : kCases) {
    auto qkv = packed_input(c, torch::kDouble, 2);
    auto w = torch::randn({c.B, c.T, c.D}, torch::kDouble);
    auto want = grad_of(composed_causal_attention, qkv, c.H, w, false);
    auto got = grad_of(fused_causal_attention, qkv, c.H, w, false);
    EXPECT_TRUE(torch::allclose(got, want, 1e-10, 1e-10)) << "T=" << c.T << " D=" << c.D;
  }
}

TEST_P(FusedAttention, FutureKeysGetNoGradient) {
  // Causality: the first position's output depends on key/value 0 only.
  const Case c{1, 5, 8, 2};
  auto qkv = packed_input(c, torch::kDouble, 3);
  auto w = torch::zeros({c.B, c.T, c.D}, torch::kDouble);
  w.select(1, 0).fill_(1.0);
  auto g = grad_of(fused_causal_attention, qkv, c.H, w, false);
  EXPECT_EQ(g.slice(1, 1).abs().max().item<double>(), 0.0);
  EXPECT_GT(g.select(1, 0).slice(-1, 2 * c.D).abs().max().item<double>(), 0.0);  // V_0
}

TEST_P(FusedAttention, DoubleBackwardMatchesComposed) {
  // The penalty's pattern: u = VJP(w) with a graph, then the gradient of a function of u
  // with respect to the input (through the double backward) and to w.
  for (const auto& c : kCases) {
    auto qkv = packed_input(c, torch::kDouble, 4);
    auto w = torch::randn({c.B, c.T, c.D}, torch::kDouble).requires_grad_(true);
    auto second = [&](Attention f) {
      auto u = grad_of(f, qkv, c.H, w, /*create_graph=*/true);
      auto r = (u.pow(2) * torch::cos(u)).sum();  // a non-quadratic function of u
      return torch::autograd::grad({r}, {qkv, w});
    };
    auto want = second(composed_causal_attention), got = second(fused_causal_attention);
    EXPECT_TRUE(torch::allclose(got[0], want[0], 1e-9, 1e-9)) << "qkv, T=" << c.T << " D=" << c.D;
    EXPECT_TRUE(torch::allclose(got[1], want[1], 1e-9, 1e-9)) << "w, T=" << c.T << " D=" << c.D;
  }
}

TEST_P(FusedAttention, ThirdDerivativeMatchesComposed) {
  // The double-VJP trick differentiates the double backward once more.
  const Case c{2, 6, 12, 2};
  auto qkv = packed_input(c, torch::kDouble, 5);
  auto w = torch::randn({c.B, c.T, c.D}, torch::kDouble).requires_grad_(true);
  auto v = torch::randn({c.B, c.T, 3 * c.D}, torch::kDouble);
  auto third = [&](Attention f) {
    auto g = grad_of(f, qkv, c.H, w, /*create_graph=*/true);                         // Jᵀw
    auto jv = torch::autograd::grad({g}, {w}, {v}, /*retain_graph=*/true, true)[0];  // Jv
    return torch::autograd::grad({jv.pow(2).sum()}, {qkv})[0];
  };
  EXPECT_TRUE(
      torch::allclose(third(fused_causal_attention), third(composed_causal_attention), 1e-9, 1e-9));
}

TEST_P(FusedAttention, ModuleUsesEitherFormWithTheSameResult) {
  torch::manual_seed(6);
  CausalSelfAttention attn(24, 4, 0.0);
  auto x = torch::randn({2, 11, 24}, torch::kDouble).requires_grad_(true);
  attn->to(torch::kDouble);
  auto fused = attn(x);
  auto g_fused = torch::autograd::grad({fused.sum()}, {x})[0];
  ComposedOpsGuard composed;
  auto plain = attn(x);
  auto g_plain = torch::autograd::grad({plain.sum()}, {x})[0];
  EXPECT_TRUE(torch::allclose(fused, plain, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(g_fused, g_plain, 1e-12, 1e-12));
}

TEST(FusedAttentionSupport, OnlyShortCpuFloatingSequences) {
  EXPECT_TRUE(fused_attention_supports(torch::zeros({2, 4, 12})));
  EXPECT_TRUE(fused_attention_supports(torch::zeros({2, 4, 12}, torch::kDouble)));
  EXPECT_FALSE(fused_attention_supports(torch::zeros({2, 4, 12}, torch::kHalf)));
  EXPECT_FALSE(fused_attention_supports(torch::zeros({2, kFusedAttentionMaxLength + 1, 12})));
  EXPECT_THROW(fused_causal_attention(torch::zeros({2, 4, 12}), 5), c10::Error);
}

}  // namespace
}  // namespace stars::kernels
