// GELU with a fused double backward against LibTorch's GELU, under both kernel builds.
#include <gtest/gtest.h>

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
