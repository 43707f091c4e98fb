// The layer norm with a fused double backward against layer norm from elementary ops.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "kernels/fused_layer_norm.hpp"
#include "kernels/kernel_builds.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/norm.hpp"

namespace stars::kernels {
namespace {

struct Inputs {
  torch::Tensor x, w, b;
};

Inputs inputs(std::int64_t seed) {
  torch::manual_seed(seed);
  auto o = torch::dtype(torch::kDouble);
  return {(3.0 * torch::randn({4, 5, 7}, o) + 1.0).requires_grad_(true),
          (1.0 + 0.5 * torch::randn({7}, o)).requires_grad_(true),
          (0.3 * torch::randn({7}, o)).requires_grad_(true)};
}

torch::Tensor composed(const Inputs& in) {
  auto c = in.x - in.x.mean(-1, true);
  return c * torch::rsqrt(c.pow(2).mean(-1, true) + 1e-5) * in.w + in.b;
}

torch::Tensor fused(const Inputs& in) {
  return fused_layer_norm(in.x, in.w, in.b, 1e-5);
}

/// Each test runs under the widest kernel build this CPU takes, then the baseline one.
class FusedLayerNorm : public stars::testing::EachKernelBuild {};

TEST_P(FusedLayerNorm, ValuesAndGradientsMatchTheComposedForm) {
  auto in = inputs(0);
  auto v = torch::randn({4, 5, 7}, torch::kDouble);
  auto grads = [&](torch::Tensor y) { return torch::autograd::grad({y}, {in.x, in.w, in.b}, {v}); };
  EXPECT_TRUE(torch::allclose(fused(in), composed(in), 1e-10, 1e-10));
  auto gf = grads(fused(in)), gc = grads(composed(in));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(gf[i], gc[i], 1e-9, 1e-9)) << i;
}

TEST_P(FusedLayerNorm, DoubleBackwardMatchesTheComposedForm) {
  // The penalty's pattern: a VJP with a graph, then the gradient of a function of it with
  // respect to the input, the weights and the VJP's vector; every cotangent is used.
  auto in = inputs(1);
  auto v = torch::randn({4, 5, 7}, torch::kDouble).requires_grad_(true);
  auto second = [&](const torch::Tensor& y) {
    auto g = torch::autograd::grad({y}, {in.x, in.w, in.b}, {v}, true, /*create_graph=*/true);
    auto r = (g[0].pow(2) * torch::cos(g[0])).sum() + (g[1] * g[1].sin()).sum() + g[2].pow(3).sum();
    return torch::autograd::grad({r}, {in.x, in.w, v});
  };
  auto gf = second(fused(in)), gc = second(composed(in));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(torch::allclose(gf[i], gc[i], 1e-8, 1e-8))
        << i << ": max diff " << (gf[i] - gc[i]).abs().max().item<double>();
}

TEST_P(FusedLayerNorm, OnlyTheInputsCotangentIsAlsoCorrect) {
  // The penalty's own case: the VJP with respect to the input alone.
  auto in = inputs(2);
  auto v = torch::randn({4, 5, 7}, torch::kDouble);
  auto second = [&](const torch::Tensor& y) {
    auto u = torch::autograd::grad({y}, {in.x}, {v}, true, true)[0];
    return torch::autograd::grad({u.pow(2).sum()}, {in.x, in.w});
  };
  auto gf = second(fused(in)), gc = second(composed(in));
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(torch::allclose(gf[i], gc[i], 1e-8, 1e-8)) << i;
}

TEST_P(FusedLayerNorm, AGraphOfTheDoubleBackwardIsAClearError) {
  // Only third derivatives need one (the differentiable JVP takes ComposedOpsGuard).
  auto in = inputs(3);
  auto v = torch::randn({4, 5, 7}, torch::kDouble).requires_grad_(true);
  auto g = torch::autograd::grad({fused(in)}, {in.x}, {v}, true, true)[0];
  try {
    torch::autograd::grad({g}, {v}, {torch::ones_like(g)}, true, /*create_graph=*/true);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("ComposedOpsGuard"), std::string::npos) << e.what();
  }
  // Without a graph the same product works: the JVP of the power iteration.
  EXPECT_NO_THROW(torch::autograd::grad({g}, {v}, {torch::ones_like(g)}, true, false));
}

TEST_P(FusedLayerNorm, TheNormModuleUsesItOnTheCpu) {
  Norm ln(NormType::layernorm, 7);
  ln->to(torch::kDouble);
  auto in = inputs(4);
  auto y = ln(in.x);
  EXPECT_NE(y.grad_fn()->name().find("FusedLayerNorm"), std::string::npos) << y.grad_fn()->name();
  ComposedOpsGuard composed;
  EXPECT_EQ(ln(in.x).grad_fn()->name().find("FusedLayerNorm"), std::string::npos);
  EXPECT_TRUE(torch::allclose(ln(in.x), y, 1e-10, 1e-10));
}

STARS_FOR_EACH_KERNEL_BUILD(FusedLayerNorm);

}  // namespace
}  // namespace stars::kernels
