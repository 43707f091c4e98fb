// train.precision: bf16 matrix products against float32 ones (values, derivatives to third
// order, the Jacobian penalty), a training run in bf16, and the refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "kernels/kernel_isa.hpp"
#include "kernels/linear.hpp"
#include "stars/config/errors.hpp"
#include "stars/dynamics/jacobian.hpp"
#include "stars/io/safetensors.hpp"
#include "stars/kernels/precision.hpp"
#include "stars/train/objective.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/trainer.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

#define REQUIRE_NATIVE_BF16() \
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "this CPU has no native bf16"

/// max |got − want| / max |want|.
double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  const auto w = want.to(torch::kDouble);
  return ((got.to(torch::kDouble) - w).abs().max() / w.abs().max()).item<double>();
}

TEST(Precision, NamesParseAndOthersAreRefusedWithTheChoices) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    EXPECT_EQ(parse_precision(precision_name(p)), p);
  try {
    parse_precision("fp16");
    FAIL() << "fp16 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fp32, tf32, bf16"), std::string::npos) << e.what();
  }
}

TEST(Precision, Bf16LinearRoundsTheProductOnlyAndKeepsFloat32) {
  REQUIRE_NATIVE_BF16();
  torch::manual_seed(0);
  torch::nn::Linear layer(96, 40);
  const auto x = torch::randn({3, 7, 96}).requires_grad_(true);
  const auto want = kernels::linear(x, layer);  // fp32
  torch::Tensor got;
  {
    PrecisionScope bf16(Precision::bf16);
    got = kernels::linear(x, layer);
  }
  EXPECT_EQ(matmul_precision(), Precision::fp32) << "the scope did not restore fp32";
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  const double err = relative_error(got, want);
  // bf16 keeps 8 significant bits: a product of 96 terms lands within about 2^-8 of fp32,
  // and cannot equal it exactly (so this also shows that the bf16 path ran).
  EXPECT_LT(err, 1e-2);
  EXPECT_GT(err, 1e-5);
  auto gw = torch::autograd::grad({got.sum()}, {layer->weight})[0];
  EXPECT_EQ(gw.scalar_type(), torch::kFloat) << "weight gradients must stay float32";
}

TEST(Precision, Bf16DerivativesToThirdOrderFollowFloat32) {
  REQUIRE_NATIVE_BF16();
  torch::manual_seed(1);
  torch::nn::Linear layer(48, 24);
  auto x = torch::randn({16, 48}).requires_grad_(true);
  auto v = torch::randn({16, 24});
  // The penalty's pattern: a VJP with a graph, a function of it, its gradient, one order more.
  auto derivatives = [&] {
    auto y = torch::tanh(kernels::linear(x, layer));
    auto u = torch::autograd::grad({y}, {x}, {v}, true, true)[0];
    auto second = torch::autograd::grad({(u.pow(2) * torch::sin(u)).sum()},
                                        {x, layer->weight, layer->bias}, {}, true, true);
    auto third = torch::autograd::grad({second[1].pow(2).sum()}, {x, layer->weight});
    return std::vector<torch::Tensor>{second[0], second[1], second[2], third[0], third[1]};
  };
  const auto want = derivatives();
  PrecisionScope bf16(Precision::bf16);
  const auto got = derivatives();
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].scalar_type(), torch::kFloat);
    EXPECT_LT(relative_error(got[i], want[i]), 5e-2) << "derivative " << i;
  }
}

TEST(Precision, PenaltyAndSpectralRadiusInBf16StayCloseToFloat32) {
  REQUIRE_NATIVE_BF16();
  torch::manual_seed(2);
  auto m = testing::tiny_model();
  m.d_model = 64;
  m.n_heads = 4;
  m.d_ff = 128;
  LoopLM model(m, 16);
  model->eval();
  const auto tokens = torch::randint(0, 16, {8, 12});
  const auto e = model->embed(tokens);
  auto f = model->state_map(e);
  auto h = e;
  for (int i = 0; i < 6; ++i) h = f(h);
  h = h.detach();
  const auto start = torch::randn_like(h);
  JacobianPenaltyConfig pen;
  pen.iters = 2;
  auto penalty_and_rho = [&] {
    const auto r = jacobian_penalty(f, h, pen, start);
    const auto gw = torch::autograd::grad({r}, {model->core[0]->parameters()[0]})[0];
    const auto rho = spectral_radius(f, h, {200, 1e-4}).rho;
    return std::vector<torch::Tensor>{r.detach(), gw, rho};
  };
  const auto want = penalty_and_rho();
  PrecisionScope bf16(Precision::bf16);
  const auto got = penalty_and_rho();
  // Measured: R within 3e-5, its gradient within 0.4%, ρ within 0.022 of ρ ≈ 1.05 (the
  // sample whose power iteration converges slowest; the others within 0.01).
  EXPECT_LT(relative_error(got[0], want[0]), 1e-3)
      << "R " << got[0].item<double>() << " vs " << want[0].item<double>();
  EXPECT_LT(relative_error(got[1], want[1]), 2e-2) << "the penalty's gradient";
  EXPECT_LT(relative_error(got[2], want[2]), 3e-2) << "rho per sample";
}

TEST(Precision, Bf16ForwardFollowsFloat32AtEveryLoop) {
  REQUIRE_NATIVE_BF16();
  torch::manual_seed(3);
  for (const auto& m : {testing::tiny_model(), testing::ouro_tiny_model()}) {
    LoopLM model(m, 16);
    model->eval();
    torch::NoGradGuard no_grad;
    const auto e = model->embed(torch::randint(0, 16, {4, 10}));
    auto f = model->state_map(e);
    // Each loop's step and readout from the float32 trajectory's state: an untrained model
    // (ρ > 1) amplifies any rounding over many loops, so whole trajectories are not compared.
    auto h = e;
    for (int loop = 1; loop <= 8; ++loop) {
      const auto want = f(h), want_logits = model->readout(want);
      PrecisionScope bf16(Precision::bf16);
      const auto got = f(h), got_logits = model->readout(want);
      EXPECT_EQ(got.scalar_type(), torch::kFloat);
      EXPECT_LT(relative_error(got, want), 3e-2) << "loop " << loop;
      EXPECT_LT(relative_error(got_logits, want_logits), 3e-2) << "loop " << loop;
      h = want;
    }
  }
}

TEST(Precision, Bf16PenaltyGradientAgreesWithFloat64FiniteDifferences) {
  REQUIRE_NATIVE_BF16();
  torch::manual_seed(4);
  auto m = testing::tiny_model();
  m.d_model = 32;
  m.d_ff = 64;
  LoopLM model(m, 16);
  model->eval();
  LoopLM model64(m, 16);
  model64->eval();
  const auto tokens = torch::randint(0, 16, {4, 8});
  JacobianPenaltyConfig pen;
  pen.iters = 2;
  const auto start = torch::randn({4, 8, m.d_model}, torch::kDouble);
  // R as a function of the core's weights at a fixed state (the state after 3 loops of the
  // unchanged model, detached as in training) and a fixed power-iteration start.
  auto state_after_3 = [&](LoopLM& lm) {
    torch::NoGradGuard no_grad;
    const auto e = lm->embed(tokens);
    auto f = lm->state_map(e);
    auto h = e;
    for (int i = 0; i < 3; ++i) h = f(h);
    return std::make_pair(e, h);
  };
  auto penalty = [&](LoopLM& lm, const std::pair<torch::Tensor, torch::Tensor>& at) {
    return jacobian_penalty(lm->state_map(at.first), at.second, pen,
                            start.to(at.second.scalar_type()));
  };
  const auto weights = model->core[0]->parameters();
  std::vector<torch::Tensor> direction;
  for (const auto& w : weights) direction.push_back(torch::randn_like(w));
  double analytic = 0;
  {
    PrecisionScope bf16(Precision::bf16);
    // Unused: weights R does not depend on (a bias after the last product of Φ).
    const auto grads =
        torch::autograd::grad({penalty(model, state_after_3(model))}, weights, {}, {}, false, true);
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (grads[i].defined())
        analytic +=
            (grads[i].to(torch::kDouble) * direction[i].to(torch::kDouble)).sum().item<double>();
  }
  // Central differences of R in float64 along the same direction, at the same state.
  auto set_weights = [&](double by) {
    torch::NoGradGuard no_grad;
    model64->to(torch::kDouble);
    const auto src = model->parameters();
    auto dst = model64->parameters();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i].to(torch::kDouble));
    auto core = model64->core[0]->parameters();
    for (std::size_t i = 0; i < core.size(); ++i)
      core[i].add_(by * direction[i].to(torch::kDouble));
  };
  set_weights(0);
  const auto at = state_after_3(model64);
  const double eps = 1e-5;
  set_weights(eps);
  const double up = penalty(model64, at).item<double>();
  set_weights(-eps);
  const double down = penalty(model64, at).item<double>();
  const double numeric = (up - down) / (2 * eps);
  // Stated tolerance: 5% of the directional derivative (bf16 products, 8 significant bits).
  EXPECT_NEAR(analytic, numeric, 0.05 * std::abs(numeric))
      << "bf16 autograd " << analytic << " against float64 differences " << numeric;
}

/// The tiny STARS run (random loops and the penalty) at `precision`.
Config tiny_run(const std::string& precision) {
  Config c = testing::tiny_training_config(80);
  c.train.precision = precision;
  return c;
}

TEST(Precision, Bf16RunLearnsWithFloat32WeightsAndRestoresFp32After) {
  REQUIRE_NATIVE_BF16();
  torch::set_num_threads(1);
  {
    Trainer t(tiny_run("bf16"), {}, torch::kCPU);
    EXPECT_EQ(matmul_precision(), Precision::bf16);
    double first = 0, last = 0, reg = 0;
    for (int s = 0; s < 80; ++s) {
      const auto st = t.train_step(s);
      if (s < 5) first += st.ce / 5;
      if (s >= 75) last += st.ce / 5;
      reg += st.penalty;
    }
    EXPECT_LT(last, first - 0.5) << "first " << first << " last " << last;
    EXPECT_GT(reg, 0) << "the penalty never ran";
    for (const auto& p : t.model()->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
  }
  EXPECT_EQ(matmul_precision(), Precision::fp32) << "a finished run left bf16 on";
}

TEST(Precision, Bf16ResumeRepeatsTheUninterruptedRunAndCheckpointsAreFloat32) {
  REQUIRE_NATIVE_BF16();
  torch::set_num_threads(1);
  Config c = tiny_run("bf16");
  c.phases[0].steps = 12;
  c.train.checkpoint_every = 6;
  c.train.keep_checkpoints = 5;
  std::vector<double> straight;
  {
    Trainer t(c, {}, torch::kCPU);
    for (int s = 0; s < 12; ++s) straight.push_back(t.train_step(s).loss);
  }
  const auto dir = (std::filesystem::temp_directory_path() / "stars_bf16_resume").string();
  std::filesystem::remove_all(dir);
  {
    TrainerOptions o;
    o.out_dir = dir;
    o.final_sweep = false;
    Trainer t(c, o, torch::kCPU);
    t.run();
  }
  std::ifstream in(dir + "/model.safetensors", std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  for (const auto& entry : safetensors::parse(bytes, "model.safetensors").entries)
    EXPECT_EQ(entry.dtype, safetensors::DType::F32) << entry.name;
  std::filesystem::remove(step_checkpoint_path(dir, 12));  // as if it died after step 6
  TrainerOptions o;
  o.out_dir = dir;
  o.resume = true;
  Trainer resumed(c, o, torch::kCPU);
  ASSERT_EQ(resumed.step(), 6);
  for (int s = 6; s < 12; ++s)
    EXPECT_EQ(resumed.train_step(s).loss, straight[static_cast<size_t>(s)]) << s;
}

/// The ConfigError a Trainer for `precision` on the CPU raises ("" when none).
std::string refusal(const std::string& precision) {
  try {
    Trainer t(tiny_run(precision), {}, torch::kCPU);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Precision, CpuRefusesTf32AndBf16WithoutNativeInstructions) {
  const std::string tf32 = refusal("tf32");
  EXPECT_NE(tf32.find("train.precision = tf32"), std::string::npos) << tf32;
  EXPECT_NE(tf32.find("CUDA"), std::string::npos) << tf32;
  // The baseline ISA has no bf16: a CPU without it is refused with the reason.
  const bool previous = kernels::use_baseline_kernels(true);
  const std::string bf16 = refusal("bf16");
  kernels::use_baseline_kernels(previous);
  EXPECT_NE(bf16.find("train.precision = bf16"), std::string::npos) << bf16;
  EXPECT_NE(bf16.find("no native bf16"), std::string::npos) << bf16;
  EXPECT_EQ(matmul_precision(), Precision::fp32);
}

}  // namespace
}  // namespace stars
