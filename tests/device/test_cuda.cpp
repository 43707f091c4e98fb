// The device-dependent parts of stars on CUDA, checked against the CPU path (which the
// other tests check against explicit Jacobians, formulas and finite differences). Every
// test skips itself where no CUDA device is present; scripts/device-build.sh runs them.
// TF32 is switched off so that fp32 agreement is meaningful: CPU and CUDA agree to 1e-4
// (fp32) or 1e-10 (fp64) here.
#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <torch/torch.h>

#include "stars/data/task.hpp"
#include "stars/dynamics/jacobian.hpp"
#include "stars/eval/decode.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/train/adamw_update.hpp"
#include "stars/train/trainer.hpp"

#include "kernels/fused_attention.hpp"
#include "kernels/sdpa_attention.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

using testing::tiny_model;

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  const torch::Device gpu{torch::kCUDA, 0};
};

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.cpu() - b.cpu()).abs().max().item<double>();
}

torch::Tensor tokens(int64_t batch, int64_t len) {
  return torch::randint(0, 16, {batch, len}, torch::kLong);
}

/// The same weights on both devices: built on the CPU, then a deep copy moved to CUDA.
std::pair<LoopLM, LoopLM> twin_models(const ModelConfig& m, torch::Dtype dtype) {
  torch::manual_seed(11);
  LoopLM cpu(m, 16), gpu(m, 16);
  torch::NoGradGuard g;
  auto src = cpu->parameters(), dst = gpu->parameters();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  cpu->to(dtype);
  gpu->to(torch::Device(torch::kCUDA, 0), dtype);
  cpu->eval();
  gpu->eval();
  return {cpu, gpu};
}

TEST_F(Cuda, ForwardMatchesCpuAtEveryLoop) {
  auto [cpu, gpu_model] = twin_models(tiny_model(), torch::kFloat);
  const auto seq = tokens(4, 12);
  ForwardOptions o;
  o.n_loops = 6;
  o.keep_states = true;
  torch::NoGradGuard g;
  const auto a = cpu->forward(seq, o), b = gpu_model->forward(seq.to(gpu), o);
  EXPECT_LT(max_diff(a.logits, b.logits), 1e-4);
  ASSERT_EQ(a.states.size(), b.states.size());
  for (std::size_t i = 0; i < a.states.size(); ++i)
    EXPECT_LT(max_diff(a.states[i], b.states[i]), 1e-4) << "loop " << i;
}

TEST_F(Cuda, JacobianProductsMatchCpu) {
  auto [cpu, gpu_model] = twin_models(tiny_model(), torch::kDouble);
  const auto seq = tokens(2, 6);
  torch::manual_seed(5);
  const auto v = torch::randn({2, 6, 16}, torch::kDouble);
  const auto run = [&](LoopLM& model, torch::Device dev) {
    const auto out = model->forward(seq.to(dev), 3);
    const StateMap f = model->state_map(out.input.detach());
    const auto x = out.state.detach();
    return std::make_pair(vjp(f, x, v.to(dev)), jvp(f, x, v.to(dev)));
  };
  const auto [vjp_cpu, jvp_cpu] = run(cpu, torch::kCPU);
  const auto [vjp_gpu, jvp_gpu] = run(gpu_model, gpu);
  EXPECT_LT(max_diff(vjp_cpu, vjp_gpu), 1e-10);
  EXPECT_LT(max_diff(jvp_cpu, jvp_gpu), 1e-10);
}

TEST_F(Cuda, PowerIterationRecoversAKnownSpectralRadius) {
  const auto a = torch::triu(torch::rand({6, 6}, torch::kDouble)).to(gpu);  // eigenvalues: diag
  {
    torch::NoGradGuard g;
    a.fill_diagonal_(0.3);
    a[4][4] = 0.8;
  }
  const StateMap f = [&](const torch::Tensor& x) { return torch::matmul(x, a.t()); };
  PowerIterationOptions o;
  o.iters = 300;
  o.differentiable = false;
  torch::manual_seed(2);
  const auto rho = power_iteration(f, torch::randn({1, 1, 6}, torch::kDouble).to(gpu), o);
  EXPECT_NEAR(rho.item<double>(), 0.8, 1e-3);
}

TEST_F(Cuda, PenaltyAndItsGradientMatchCpu) {
  auto [cpu, gpu_model] = twin_models(tiny_model(), torch::kDouble);
  const auto seq = tokens(3, 8);
  torch::manual_seed(9);
  PowerIterationOptions o;
  o.iters = 2;
  o.start = torch::randn({3, 8, 16}, torch::kDouble);  // the same start on both devices
  const auto run = [&](LoopLM& model, torch::Device dev) {
    model->zero_grad();
    const auto out = model->forward(seq.to(dev), 4);
    const auto u = power_iteration(model->state_map(out.input), out.state, o);
    const auto r = u.pow(2);
    r.backward();
    return std::make_pair(r.detach().cpu(), model->core->parameters()[0].grad().cpu());
  };
  const auto [r_cpu, g_cpu] = run(cpu, torch::kCPU);
  const auto [r_gpu, g_gpu] = run(gpu_model, gpu);
  EXPECT_LT(max_diff(r_cpu, r_gpu), 1e-10);
  EXPECT_LT(max_diff(g_cpu, g_gpu), 1e-10);
}

TEST_F(Cuda, CachedDecodingMatchesRecomputeAndCpu) {
  auto [cpu, gpu_model] = twin_models(tiny_model(), torch::kFloat);
  DataConfig d;
  d.digits = 2;
  const auto ex = make_task(d)->sample_batch(40, 5, 0);
  const Tokenizer tok = Tokenizer::arithmetic();
  for (int depth : {1, 4}) {
    DecodeOptions cached, plain;
    cached.n_loops = plain.n_loops = depth;
    plain.use_cache = false;
    const auto on_gpu = decode_answers(gpu_model, ex, tok, cached, 16, gpu).texts;
    EXPECT_EQ(on_gpu, decode_answers(gpu_model, ex, tok, plain, 16, gpu).texts);
    EXPECT_EQ(on_gpu, decode_answers(cpu, ex, tok, cached, 16, torch::kCPU).texts);
  }
}

Config tiny_training(double reg_weight) {
  Config c;
  c.model = tiny_model();
  c.model.d_model = 32;
  c.model.d_ff = 64;
  c.data.digits = 2;
  c.train.batch = 32;
  c.train.eval_every = 0;
  c.phases = {PhaseConfig{}};
  c.phases[0].steps = 60;
  c.phases[0].lr = 3e-3;
  c.phases[0].warmup = 5;
  c.phases[0].loops.min = 1;
  c.phases[0].loops.max = 6;
  c.phases[0].loops.mu = 1.0;
  c.phases[0].jacobian_penalty.weight = reg_weight;
  c.phases[0].jacobian_penalty.start_step = 3;
  return c;
}

TEST_F(Cuda, OneOptimiserStepMatchesCpu) {
  const Config c = tiny_training(0.0);  // JSRR's random start differs by device; see above
  Trainer on_cpu(c, {}, torch::kCPU), on_gpu(c, {}, gpu);
  const auto a = on_cpu.train_step(0), b = on_gpu.train_step(0);
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  const auto pa = on_cpu.model()->parameters(), pb = on_gpu.model()->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_LT(max_diff(pa[i], pb[i]), 1e-5) << i;
}

TEST_F(Cuda, TinyStarsRunLowersTheLoss) {
  Trainer t(tiny_training(0.1), {}, gpu);
  double first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    const auto st = t.train_step(s);
    ASSERT_TRUE(std::isfinite(st.loss)) << s;
    if (s < 5) first += st.ce / 5;
    if (s >= 55) last += st.ce / 5;
  }
  EXPECT_LT(last, first - 0.3) << "first " << first << " last " << last;
}

TEST_F(Cuda, SdpaAttentionMatchesTheMatmulFormAndIsLeftOutWhereDifferentiatedTwice) {
  if (!kernels::sdpa_attention_compiled()) GTEST_SKIP() << "LibTorch < 2.0: no SDPA";
  torch::manual_seed(5);
  const auto qkv = torch::randn({3, 17, 3 * 64}, torch::TensorOptions(gpu)).requires_grad_();
  EXPECT_TRUE(kernels::use_sdpa_attention(qkv, 0, false));
  {
    TwiceDifferentiatedGuard twice;
    EXPECT_FALSE(kernels::use_sdpa_attention(qkv, 0, false));
  }
  EXPECT_FALSE(kernels::use_sdpa_attention(qkv, 4, false));  // a cached prefix
  const auto sdpa = kernels::sdpa_causal_attention(qkv, 4);
  const auto composed = kernels::composed_causal_attention(qkv, 4);
  EXPECT_LT(max_diff(sdpa, composed), 1e-5);
  const auto g = torch::randn_like(sdpa);
  const auto ga = torch::autograd::grad({sdpa}, {qkv}, {g})[0];
  const auto gb = torch::autograd::grad({composed}, {qkv}, {g})[0];
  EXPECT_LT(max_diff(ga, gb), 1e-4);
}

TEST_F(Cuda, ForeachAndFusedAdamWMatchTheLoop) {
  std::vector<std::vector<torch::Tensor>> params;
  std::vector<std::unique_ptr<torch::optim::AdamW>> adamw;
  for (int i = 0; i < 3; ++i) {
    torch::manual_seed(9);
    params.push_back({torch::randn({33, 7}, torch::TensorOptions(gpu)).requires_grad_(),
                      torch::randn({7}, torch::TensorOptions(gpu)).requires_grad_()});
    adamw.push_back(std::make_unique<torch::optim::AdamW>(
        params.back(), torch::optim::AdamWOptions(1e-2).weight_decay(0.1)));
  }
  const std::vector<AdamWKernel> kernels{AdamWKernel::loop, AdamWKernel::foreach,
                                         resolve_adamw_kernel("auto", gpu)};
  for (int step = 0; step < 5; ++step) {
    torch::manual_seed(100 + step);
    const auto g0 = torch::randn({33, 7}, torch::TensorOptions(gpu));
    const auto g1 = torch::randn({7}, torch::TensorOptions(gpu));
    for (std::size_t k = 0; k < kernels.size(); ++k) {
      params[k][0].mutable_grad() = g0.clone();
      params[k][1].mutable_grad() = g1.clone();
      adamw_update(*adamw[k], kernels[k]);
    }
  }
  for (std::size_t k = 1; k < kernels.size(); ++k)
    for (std::size_t i = 0; i < 2; ++i)
      EXPECT_LT(max_diff(params[k][i], params[0][i]), 1e-6)
          << adamw_kernel_name(kernels[k]) << " parameter " << i;
}

}  // namespace
}  // namespace stars
