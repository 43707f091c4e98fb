#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stars/dynamics/jacobian.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/looplm.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

using testing::linear_map;
using testing::tiny_double_model;

/// Explicit Jacobian of f at x, column by column by central differences: (n_out, n_in).
torch::Tensor explicit_jacobian(const StateMap& f, const torch::Tensor& x) {
  torch::NoGradGuard g;
  const double eps = 1e-6;
  const auto n = x.numel();
  std::vector<torch::Tensor> cols;
  for (int64_t i = 0; i < n; ++i) {
    auto dx = torch::zeros_like(x).view(-1);
    dx[i] = eps;
    dx = dx.view(x.sizes());
    cols.push_back(((f(x + dx) - f(x - dx)) / (2 * eps)).reshape(-1));
  }
  return torch::stack(cols, 1);
}

TEST(Jacobian, VjpAndJvpEqualExplicitJacobian) {
  LoopLM model = tiny_double_model();
  auto tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
  auto e = model->embed(tokens).detach();
  auto f = model->state_map(e);
  auto x = torch::randn({1, 3, 4}, torch::kDouble);
  auto v = torch::randn({1, 3, 4}, torch::kDouble);
  const auto J = explicit_jacobian(f, x);  // (12, 12)
  const auto want_jv = torch::matmul(J, v.reshape(-1)).view(x.sizes());
  const auto want_vj = torch::matmul(J.t(), v.reshape(-1)).view(x.sizes());
  EXPECT_LT((jvp(f, x, v) - want_jv).abs().max().item<double>(), 1e-7);
  EXPECT_LT((vjp(f, x, v) - want_vj).abs().max().item<double>(), 1e-7);
}

TEST(Jacobian, EveryProductBuildsItsMapUnderTheTwiceDifferentiatedGuard) {
  // The map's graph is differentiated twice, so kernels without a double backward (CUDA's
  // fused attention) must see the guard whenever a Jacobian product evaluates it.
  int calls = 0, guarded = 0;
  const StateMap f = [&](const torch::Tensor& x) {
    ++calls;
    guarded += TwiceDifferentiatedGuard::active() ? 1 : 0;
    return x * x;
  };
  const auto x = torch::randn({1, 2, 3}, torch::kDouble);
  vjp(f, x, torch::ones_like(x));
  jvp(f, x, torch::ones_like(x));
  power_iteration(f, x, PowerIterationOptions{});
  spectral_radius(f, x, SpectralRadiusOptions{});
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(guarded, calls);
  EXPECT_FALSE(TwiceDifferentiatedGuard::active());  // and only while they run
  f(x);
  EXPECT_EQ(guarded, 4);
}

TEST(Jacobian, PowerIterationRecoversKnownSpectralRadius) {
  // Symmetric: eigenvalues 2, -1.5, 0.5 after an orthogonal change of basis.
  auto Q = std::get<0>(torch::linalg_qr(torch::randn({3, 3}, torch::kDouble)));
  auto sym = torch::matmul(
      torch::matmul(Q, torch::diag(torch::tensor({2.0, -1.5, 0.5}, torch::kDouble))), Q.t());
  // Non-symmetric (upper triangular): eigenvalues 3, -1, 0.5 on the diagonal.
  auto upper = torch::tensor({{3.0, 2.0, -1.0}, {0.0, -1.0, 4.0}, {0.0, 0.0, 0.5}}, torch::kDouble);
  for (auto [A, rho] : {std::pair{sym, 2.0}, std::pair{upper, 3.0}})
    for (auto product : {JacobianProduct::vjp, JacobianProduct::jvp}) {
      PowerIterationOptions o;
      o.iters = 200;
      o.product = product;
      o.differentiable = false;
      auto x = torch::randn({1, 1, 3}, torch::kDouble);
      EXPECT_NEAR(power_iteration(linear_map(A), x, o).item<double>(), rho, 1e-6);
    }
  // Per-sample estimates: sample 1 is the same map scaled by 0.25.
  auto x = torch::randn({2, 1, 3}, torch::kDouble);
  const auto sr =
      spectral_radius(linear_map(upper, {1.0, 0.25}), x, {500, 1e-10, JacobianProduct::vjp});
  EXPECT_NEAR(sr.rho[0].item<double>(), 3.0, 1e-5);
  EXPECT_NEAR(sr.rho[1].item<double>(), 0.75, 1e-5);
  EXPECT_LT(sr.iters, 500);  // the tolerance stopped it
}

}  // namespace
}  // namespace stars
