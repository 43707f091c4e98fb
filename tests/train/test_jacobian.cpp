#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stars/model/looplm.hpp"
#include "stars/train/jacobian.hpp"

namespace stars {
namespace {

/// A tiny double-precision LoopLM, so finite differences are accurate.
LoopLM tiny_double_model() {
  ModelConfig m;
  m.d_model = 4;
  m.n_heads = 2;
  m.d_ff = 8;
  m.max_len = 8;
  torch::manual_seed(3);
  LoopLM model(m, 16);
  model->to(torch::kDouble);
  model->eval();
  return model;
}

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

/// f(x) = x A^T for each sample, with sample b scaled by scales[b].
StateMap linear_map(const torch::Tensor& A, std::vector<double> scales = {1.0}) {
  auto s = torch::tensor(scales, torch::kDouble).view({-1, 1, 1});
  return [A, s](const torch::Tensor& x) { return torch::matmul(x, A.t()) * s; };
}

TEST(Jacobian, PowerIterationRecoversKnownSpectralRadius) {
  // Symmetric: eigenvalues 2, -1.5, 0.5 after an orthogonal change of basis.
  auto Q = std::get<0>(torch::linalg::qr(torch::randn({3, 3}, torch::kDouble)));
  auto sym = torch::matmul(
      torch::matmul(Q, torch::diag(torch::tensor({2.0, -1.5, 0.5}, torch::kDouble))), Q.t());
  // Non-symmetric (upper triangular): eigenvalues 3, -1, 0.5 on the diagonal.
  auto upper = torch::tensor({{3.0, 2.0, -1.0}, {0.0, -1.0, 4.0}, {0.0, 0.0, 0.5}}, torch::kDouble);
  for (auto [A, rho] : {std::pair{sym, 2.0}, std::pair{upper, 3.0}})
    for (auto product : {Product::vjp, Product::jvp}) {
      PowerIterationOptions o;
      o.iters = 200;
      o.product = product;
      o.differentiable = false;
      auto x = torch::randn({1, 1, 3}, torch::kDouble);
      EXPECT_NEAR(power_iteration(linear_map(A), x, o).item<double>(), rho, 1e-6);
    }
  // Per-sample estimates: sample 1 is the same map scaled by 0.25.
  auto x = torch::randn({2, 1, 3}, torch::kDouble);
  const auto sr = spectral_radius(linear_map(upper, {1.0, 0.25}), x, {500, 1e-10, Product::vjp});
  EXPECT_NEAR(sr.rho[0].item<double>(), 3.0, 1e-5);
  EXPECT_NEAR(sr.rho[1].item<double>(), 0.75, 1e-5);
  EXPECT_LT(sr.iters, 500);  // the tolerance stopped it
}

TEST(Jacobian, PenaltyGradientReachesOnlyTheCore) {
  for (auto product : {Product::vjp, Product::jvp}) {
    ModelConfig m;
    m.d_model = 8;
    m.n_heads = 2;
    m.d_ff = 16;
    m.max_len = 8;
    LoopLM model(m, 16);
    auto out = model->forward(torch::tensor({{1, 2, 3, 4}}, torch::kLong), 3);
    RegConfig reg;
    reg.product = product;
    reg.iters = 2;
    auto r = jsrr_penalty(model->state_map(out.input), out.state, reg);
    ASSERT_TRUE(r.requires_grad()) << "penalty has no graph: create_graph was lost";
    r.backward();
    double core_grad = 0;
    for (const auto& p : model->core->parameters())
      if (p.grad().defined()) core_grad += p.grad().abs().sum().item<double>();
    EXPECT_GT(core_grad, 0.0) << to_string(product);
    for (auto* t : {&model->tok_emb->weight, &model->pos_emb->weight})
      EXPECT_TRUE(!t->grad().defined() || t->grad().abs().sum().item<double>() == 0.0);
    for (const auto& p : model->norm_f->parameters())
      EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0);
  }
}

TEST(Jacobian, PenaltyGradientMatchesFiniteDifference) {
  LoopLM model = tiny_double_model();
  auto tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
  auto out = model->forward(tokens, 2);
  const auto state = out.state.detach();
  const auto e = out.input.detach();
  auto& w = model->core[0]->as<TransformerLayer>()->fc->weight;
  for (auto product : {Product::vjp, Product::jvp}) {
    RegConfig reg;          // one iteration: R = |P v|^2 is exactly differentiable (later
    reg.product = product;  // iterations treat the direction as a constant, by design)
    reg.iters = 1;
    auto penalty = [&] {
      torch::manual_seed(11);  // the same start vector each time
      return jsrr_penalty(model->state_map(e), state, reg);
    };
    w.mutable_grad() = torch::Tensor();
    penalty().backward();
    const double analytic = w.grad()[1][2].item<double>();
    const double eps = 1e-6;
    torch::NoGradGuard g;
    w[1][2] += eps;
    const double up = penalty().item<double>();
    w[1][2] -= 2 * eps;
    const double down = penalty().item<double>();
    w[1][2] += eps;
    EXPECT_NEAR(analytic, (up - down) / (2 * eps), 1e-5) << to_string(product);
  }
}

TEST(Jacobian, MixIsConvexCombination) {
  auto m = mix_loss(torch::tensor(2.0), torch::tensor(10.0), 0.1);
  EXPECT_NEAR(m.item<double>(), 0.9 * 2.0 + 0.1 * 10.0, 1e-6);
}

TEST(Jacobian, HingeIsZeroBelowTarget) {
  auto A = torch::eye(3, torch::kDouble) * 0.5;
  RegConfig reg;
  reg.penalty = PenaltyKind::hinge;
  reg.target = 1.0;
  EXPECT_EQ(
      jsrr_penalty(linear_map(A), torch::randn({1, 1, 3}, torch::kDouble), reg).item<double>(),
      0.0);
  reg.target = 0.2;
  EXPECT_NEAR(
      jsrr_penalty(linear_map(A), torch::randn({1, 1, 3}, torch::kDouble), reg).item<double>(),
      0.09, 1e-9);
}

}  // namespace
}  // namespace stars
