// The model's linear layers on oneDNN's sgemm against LibTorch's linear in double precision.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "kernels/linear.hpp"
#include "stars/kernels/cpu_gemm.hpp"
#include "stars/kernels/precision.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/objective.hpp"
#include "test_support.hpp"

namespace stars::kernels {
namespace {

/// Sets the CPU GEMM for one test and restores the previous choice.
class GemmChoice {
 public:
  explicit GemmChoice(CpuGemm g) : previous_(cpu_gemm()) { set_cpu_gemm(g); }
  ~GemmChoice() { set_cpu_gemm(previous_); }

 private:
  CpuGemm previous_;
};

#define REQUIRE_ONEDNN() \
  if (!onednn_gemm_available()) GTEST_SKIP() << "this build has no oneDNN"

torch::Tensor as_double(const torch::Tensor& t) {
  return t.detach().to(torch::kDouble).requires_grad_(t.requires_grad());
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const char* what) {
  EXPECT_TRUE(torch::allclose(got.to(torch::kDouble), want, 1e-4, 1e-4))
      << what << ": max diff " << (got.to(torch::kDouble) - want).abs().max().item<double>();
}

TEST(OnednnGemm, LinearValuesAndGradientsMatchLibTorch) {
  REQUIRE_ONEDNN();
  GemmChoice onednn(CpuGemm::onednn);
  torch::manual_seed(0);
  // Odd sizes, a 3-D input and a (1, ...) batch: every edge of the row-major mapping.
  for (const auto& shape : {std::vector<std::int64_t>{4, 9, 37}, {1, 1, 37}, {5, 37}}) {
    torch::nn::Linear layer(37, 11);
    auto x = torch::randn(shape).requires_grad_(true);
    const auto bias_before = layer->bias.clone();
    auto y = linear(x, layer);
    EXPECT_TRUE(torch::equal(layer->bias, bias_before)) << "the bias buffer was written";
    auto xd = as_double(x), wd = as_double(layer->weight), bd = as_double(layer->bias);
    auto yd = torch::linear(xd, wd, bd);
    expect_close(y, yd, "values");
    auto v = torch::randn_like(yd);
    auto g = torch::autograd::grad({y}, {x, layer->weight, layer->bias}, {v.to(torch::kFloat)});
    auto gd = torch::autograd::grad({yd}, {xd, wd, bd}, {v});
    for (int i = 0; i < 3; ++i) expect_close(g[i], gd[i], "gradient");
  }
}

TEST(OnednnGemm, SecondAndThirdDerivativesMatchLibTorch) {
  REQUIRE_ONEDNN();
  GemmChoice onednn(CpuGemm::onednn);
  torch::manual_seed(1);
  torch::nn::Linear layer(13, 7);
  auto x = torch::randn({6, 13}).requires_grad_(true);
  auto v = torch::randn({6, 7});
  // A VJP with a graph through a nonlinearity, then derivatives of a function of it (the
  // penalty's pattern), then one order more (the JVP penalty's gradient).
  auto derivatives = [&](const torch::Tensor& xi, const torch::Tensor& w, const torch::Tensor& b,
                         const std::function<torch::Tensor()>& f) {
    auto y = torch::tanh(f());
    auto u = torch::autograd::grad({y}, {xi}, {v.to(y.dtype())}, true, true)[0];
    auto r = (u.pow(2) * torch::sin(u)).sum();
    auto second = torch::autograd::grad({r}, {xi, w, b}, {}, true, true);
    auto third = torch::autograd::grad({second[1].pow(2).sum()}, {xi, w});
    return std::vector<torch::Tensor>{second[0], second[1], second[2], third[0], third[1]};
  };
  auto got = derivatives(x, layer->weight, layer->bias, [&] { return linear(x, layer); });
  auto xd = as_double(x), wd = as_double(layer->weight), bd = as_double(layer->bias);
  auto want = derivatives(xd, wd, bd, [&] { return torch::linear(xd, wd, bd); });
  for (std::size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], "derivative");
}

TEST(OnednnGemm, MatmulTakesTransposedViewsAndOtherStrides) {
  REQUIRE_ONEDNN();
  torch::manual_seed(2);
  auto a = torch::randn({23, 17}), b = torch::randn({17, 29});
  auto want = torch::mm(a.to(torch::kDouble), b.to(torch::kDouble));
  expect_close(onednn_matmul(a, b), want, "N N");
  expect_close(onednn_matmul(a.t().contiguous().t(), b.t().contiguous().t()), want, "T T");
  auto wide = torch::randn({23, 34});
  auto strided = wide.narrow(1, 0, 17);  // row stride 34: a leading dimension above K
  expect_close(onednn_matmul(strided, b),
               torch::mm(strided.to(torch::kDouble), b.to(torch::kDouble)), "ld > K");
  auto every_other = wide.slice(1, 0, 34, 2);  // column stride 2: copied first
  expect_close(onednn_matmul(every_other, b),
               torch::mm(every_other.to(torch::kDouble), b.to(torch::kDouble)), "strided");
  EXPECT_EQ(onednn_matmul(torch::randn({0, 17}), b).sizes(), (std::vector<std::int64_t>{0, 29}));
  EXPECT_TRUE(onednn_matmul(torch::randn({3, 0}), torch::randn({0, 4})).eq(0).all().item<bool>());
  EXPECT_THROW(onednn_matmul(a, a), c10::Error);
}

/// t rounded to bfloat16, then widened to double: an operand as a bf16 product sees it.
torch::Tensor rounded(const torch::Tensor& t) {
  return t.detach().to(torch::kBFloat16).to(torch::kDouble);
}

TEST(OnednnGemm, Bf16ProductsAreFloat32ProductsOfRoundedOperands) {
  REQUIRE_ONEDNN();
  GemmChoice onednn(CpuGemm::onednn);
  PrecisionScope bf16(Precision::bf16);
  torch::manual_seed(5);
  torch::nn::Linear layer(37, 11);
  const auto bias_before = layer->bias.clone();
  // A 3-D input, a single row, a row stride above the width (a narrowed view), no rows.
  const auto wide = torch::randn({6, 50});
  for (const auto& x0 : {torch::randn({4, 9, 37}), torch::randn({1, 37}), wide.narrow(1, 3, 37),
                         torch::randn({0, 37})}) {
    const auto x = x0.detach().requires_grad_(true);
    const auto y = linear(x, layer);
    ASSERT_EQ(y.scalar_type(), torch::kFloat);
    // The operands are rounded, the sum is not: float32 accumulation of 37 terms, where
    // LibTorch's bf16 product would round each output to 8 bits (about 4e-3 relative).
    const auto want =
        torch::linear(rounded(x), rounded(layer->weight), layer->bias.detach().to(torch::kDouble));
    EXPECT_TRUE(torch::allclose(y.to(torch::kDouble), want, 1e-5, 1e-5))
        << "values: max diff " << (y.to(torch::kDouble) - want).abs().max().item<double>();
    const auto v = torch::randn_like(y);
    const auto g = torch::autograd::grad({y}, {x, layer->weight, layer->bias}, {v});
    const auto v2 = rounded(v).reshape({-1, 11}), x2 = rounded(x).reshape({-1, 37});
    expect_close(g[0], torch::mm(v2, rounded(layer->weight)).view(x.sizes()), "input gradient");
    expect_close(g[1], torch::mm(v2.t(), x2), "weight gradient");
    expect_close(g[2], v.to(torch::kDouble).reshape({-1, 11}).sum(0), "bias gradient");
  }
  EXPECT_TRUE(torch::equal(layer->bias, bias_before)) << "the bias buffer was written";
  // The tied output head: a product without a bias.
  const auto x = torch::randn({3, 37});
  torch::Tensor w = torch::randn({5, 37});
  expect_close(kernels::linear(x, w), torch::mm(rounded(x), rounded(w).t()), "no bias");
}

TEST(OnednnGemm, LoopLMForwardAndPenaltyGradientMatchTheBlasPath) {
  REQUIRE_ONEDNN();
  torch::manual_seed(3);
  LoopLM model(testing::tiny_model(), 16);
  {
    torch::NoGradGuard no_grad;  // non-zero biases, so that a dropped bias shows
    for (auto& p : model->parameters()) p.add_(0.1 * torch::randn_like(p));
  }
  auto ids = torch::randint(0, 16, {3, 9});
  JacobianPenaltyConfig reg;
  reg.iters = 2;
  auto run = [&](CpuGemm g) {
    GemmChoice choice(g);
    model->zero_grad();
    torch::manual_seed(4);
    ForwardOptions fo;
    fo.n_loops = 3;
    const auto out = model->forward(ids, fo);
    auto r = jacobian_penalty(model->state_map(out.input), out.state, reg);
    r.backward();  // the penalty's gradient alone: its double backward runs on the GEMM
    std::vector<torch::Tensor> grads{out.logits.detach()};
    for (const auto& p : model->parameters())
      grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return grads;
  };
  const auto onednn = run(CpuGemm::onednn), blas = run(CpuGemm::blas);
  for (std::size_t i = 0; i < onednn.size(); ++i)
    EXPECT_TRUE(torch::allclose(onednn[i], blas[i], 1e-3, 1e-4))
        << i << ": max diff " << (onednn[i] - blas[i]).abs().max().item<double>();
}

TEST(OnednnGemm, ChoiceIsProcessWideAndChecked) {
  GemmChoice keep(cpu_gemm());
  set_cpu_gemm(CpuGemm::blas);
  EXPECT_EQ(cpu_gemm(), CpuGemm::blas);
  EXPECT_STREQ(cpu_gemm_name(cpu_gemm()), "blas");
  if (onednn_gemm_available()) {
    set_cpu_gemm(CpuGemm::onednn);
    EXPECT_EQ(cpu_gemm(), CpuGemm::onednn);
  } else {
    EXPECT_THROW(set_cpu_gemm(CpuGemm::onednn), std::invalid_argument);
  }
}

/// Sets STARS_CPU_GEMM for one test (unset for nullptr) and restores it.
class GemmEnvironment {
 public:
  explicit GemmEnvironment(const char* value) {
    if (const char* old = std::getenv("STARS_CPU_GEMM")) previous_ = old;
    value ? setenv("STARS_CPU_GEMM", value, 1) : unsetenv("STARS_CPU_GEMM");
  }
  ~GemmEnvironment() {
    previous_ ? setenv("STARS_CPU_GEMM", previous_->c_str(), 1) : unsetenv("STARS_CPU_GEMM");
  }

 private:
  std::optional<std::string> previous_;
};

TEST(OnednnGemm, EnvironmentNamesAPathOrIsRefused) {
  const CpuGemm build_default = onednn_gemm_available() ? CpuGemm::onednn : CpuGemm::blas;
  for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
    GemmEnvironment env(unset);
    EXPECT_EQ(cpu_gemm_from_environment(), build_default);
  }
  {
    GemmEnvironment env("blas");
    EXPECT_EQ(cpu_gemm_from_environment(), CpuGemm::blas);
  }
  {
    GemmEnvironment env("onednn");
    if (onednn_gemm_available())
      EXPECT_EQ(cpu_gemm_from_environment(), CpuGemm::onednn);
    else
      EXPECT_THROW(cpu_gemm_from_environment(), std::invalid_argument);
  }
  // A typo is refused, naming the value, instead of silently running the default path.
  GemmEnvironment env("BLAS");
  try {
    cpu_gemm_from_environment();
    ADD_FAILURE() << "STARS_CPU_GEMM=BLAS was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("STARS_CPU_GEMM='BLAS' is not one of blas, onednn"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace stars::kernels
