// GELU with a fused double backward against LibTorch's GELU, under both kernel builds.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "kernels/fused_gelu.hpp"
#include "kernels/kernel_builds.hpp"
#include "stars/kernels/composed_ops.hpp"

namespace stars::kernels {
namespace {

/// Each test runs under the widest kernel build this CPU takes, then the baseline one.
class FusedGelu : public stars::testing::EachKernelBuild {};

/// The penalty's pattern through one GELU: a VJP with a graph, then the gradient of a
/// function of it with respect to the input and the VJP's vector.
std::vector<torch::Tensor> second_derivatives(const torch::Tensor& x, const torch::Tensor& v,
                                              torch::Tensor (*f)(const torch::Tensor&)) {
  auto u = torch::autograd::grad({f(x)}, {x}, {v}, true, /*create_graph=*/true)[0];
  auto r = (u.pow(2) * torch::cos(u)).sum();
  return torch::autograd::grad({r}, {x, v});
}

torch::Tensor libtorch_gelu(const torch::Tensor& x) {
  return torch::gelu(x);
}

TEST_P(FusedGelu, MatchesLibTorchToTheSecondDerivative) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    torch::manual_seed(0);
    // Wide values: the Gaussian density's tails, and more elements than one parallel chunk.
    auto x = (4.0 * torch::randn({3, 70001}, dtype)).requires_grad_(true);
    auto v = torch::randn({3, 70001}, dtype).requires_grad_(true);
    const double tol = dtype == torch::kDouble ? 1e-10 : 1e-5;
    EXPECT_TRUE(torch::allclose(fused_gelu(x), torch::gelu(x), tol, tol));
    auto got = second_derivatives(x, v, fused_gelu);
    auto want = second_derivatives(x, v, libtorch_gelu);
    for (int i = 0; i < 2; ++i)
      EXPECT_TRUE(torch::allclose(got[i], want[i], tol, tol))
          << i << " " << dtype << ": max diff " << (got[i] - want[i]).abs().max().item<double>();
  }
}

TEST_P(FusedGelu, Bf16TakesLibTorchsPassesAndFollowsFloat32ToTheSecondDerivative) {
  // The model's GELU on bfloat16 (train.precision bf16 keeps the MLP's hidden activations
  // in it) is LibTorch's, whose bf16 forward, backward and composed double backward are
  // vectorised and faster than the fused float32 path (bench-attention's gelu rows).
  torch::manual_seed(1);
  auto x = (3.0 * torch::randn({2, 40001})).requires_grad_(true);
  auto v = torch::randn({2, 40001}).requires_grad_(true);
  const auto want = second_derivatives(x, v, fused_gelu);
  auto xb = x.detach().to(torch::kBFloat16).requires_grad_(true);
  auto vb = v.detach().to(torch::kBFloat16).requires_grad_(true);
  EXPECT_FALSE(fused_gelu_supports(xb));
  const auto value = stars::kernels::gelu(xb);
  ASSERT_EQ(value.scalar_type(), torch::kBFloat16);
  // Against the exact GELU of the rounded inputs (erfc, exact in the lower tail too): within
  // 2^-8 relative, or 1e-7 absolute where 1 + erf cancels in the lower tail.
  const auto xd = xb.detach().to(torch::kDouble);
  const auto exact = 0.5 * xd * torch::erfc(-xd / std::sqrt(2.0));
  const auto bound = std::pow(2.0, -8) * exact.abs() + 1e-7;
  EXPECT_TRUE(((value.to(torch::kDouble) - exact).abs() <= bound).all().item<bool>());
  const auto got = second_derivatives(xb, vb, &stars::kernels::gelu);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(got[i].scalar_type(), torch::kBFloat16);
    // Inputs rounded to 8 significant bits, and each op's result again: a few 2^-8 of the
    // largest value (the float32 path agrees with LibTorch's to 1e-5, above).
    const auto err = (got[i].to(torch::kFloat) - want[i]).abs().max() / want[i].abs().max();
    EXPECT_LT(err.item<double>(), 3e-2) << i;
  }
}

TEST_P(FusedGelu, ThirdDerivativeIsRefusedAndComposedOpsGuardAvoidsIt) {
  auto x = torch::randn({4, 5}, torch::kDouble).requires_grad_(true);
  auto v = torch::randn({4, 5}, torch::kDouble);
  auto third = [&] {
    auto u = torch::autograd::grad({kernels::gelu(x)}, {x}, {v}, true, true)[0];
    auto w = torch::autograd::grad({u.pow(2).sum()}, {x}, {}, true, true)[0];
    return torch::autograd::grad({w.sum()}, {x})[0];
  };
  EXPECT_THROW(third(), std::logic_error);
  ComposedOpsGuard exact;
  auto got = third();
  auto u = torch::autograd::grad({torch::gelu(x)}, {x}, {v}, true, true)[0];
  auto w = torch::autograd::grad({u.pow(2).sum()}, {x}, {}, true, true)[0];
  EXPECT_TRUE(torch::allclose(got, torch::autograd::grad({w.sum()}, {x})[0]));
}

STARS_FOR_EACH_KERNEL_BUILD(FusedGelu);

}  // namespace
}  // namespace stars::kernels
