// The model options of pretrained LoopLMs (Ouro): each against its formula, composed in one
// model whose cached decoding, parameter count and penalty gradient stay right.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/dynamics/jacobian.hpp"
#include "stars/model/attention.hpp"
#include "stars/model/layer.hpp"
#include "stars/model/looplm.hpp"
#include "stars/model/norm.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

using testing::ouro_tiny_model;

torch::Tensor tokens(std::int64_t B, std::int64_t T, std::int64_t seed = 0) {
  torch::manual_seed(seed);
  return torch::randint(0, 14, {B, T}, torch::kLong);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(Rope, RotatesEachPairByItsPositionAngle) {
  // head_dim 4: pairs (x0, x2) and (x1, x3) turn by p·θ^0 and p·θ^(-1/2).
  const auto x = torch::tensor({1.0, 2.0, 3.0, 4.0}).view({1, 1, 1, 4}).expand({1, 3, 1, 4});
  const auto y = rotary_embedding(x.contiguous(), /*offset=*/5, /*theta=*/100.0);
  for (int t = 0; t < 3; ++t) {
    const double p = 5 + t, a0 = p, a1 = p / 10.0;
    const std::vector<double> want = {
        1 * std::cos(a0) - 3 * std::sin(a0), 2 * std::cos(a1) - 4 * std::sin(a1),
        3 * std::cos(a0) + 1 * std::sin(a0), 4 * std::cos(a1) + 2 * std::sin(a1)};
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(y[0][t][0][i].item<double>(), want[static_cast<std::size_t>(i)], 1e-5);
  }
}

TEST(Rope, AttentionScoresDependOnlyOnTheDistance) {
  torch::manual_seed(1);
  const auto q = torch::randn({1, 1, 2, 8}), k = torch::randn({1, 1, 2, 8});
  auto score = [&](std::int64_t pq, std::int64_t pk) {
    return (rotary_embedding(q, pq, 10000) * rotary_embedding(k, pk, 10000)).sum(-1);
  };
  EXPECT_LT(max_diff(score(3, 1), score(20, 18)), 1e-4);
  EXPECT_GT(max_diff(score(3, 1), score(3, 2)), 1e-3);
}

TEST(RmsNorm, HalfPrecisionIsNormalisedInFloat32ThenScaled) {
  torch::manual_seed(2);
  Norm norm(NormType::rmsnorm, 8, 1e-6);
  {
    torch::NoGradGuard g;
    norm->parameters()[0].uniform_(0.5, 1.5);
  }
  norm->to(torch::kBFloat16);
  const auto x = (torch::randn({3, 8}) * 300).to(torch::kBFloat16);
  const auto x32 = x.to(torch::kFloat);
  const auto want = norm->parameters()[0] *
                    (x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + 1e-6)).to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(norm(x), want));
  EXPECT_EQ(norm(x).scalar_type(), torch::kBFloat16);
}

TEST(PretrainedLayer, IsTheFourNormSandwichAroundAttentionAndSwiGLU) {
  torch::manual_seed(3);
  TransformerLayer layer(ouro_tiny_model());
  for (const auto& p : layer->named_parameters())
    EXPECT_EQ(p.key().find("bias"), std::string::npos) << p.key() << ": want no biases";
  EXPECT_FALSE(layer->fc);
  const auto x = torch::randn({2, 5, 16});
  const auto h = x + layer->norm1_out(layer->attn(layer->norm1_in(x)));
  const auto n = layer->norm2_in(h);
  const auto mlp = torch::matmul(torch::silu(torch::matmul(n, layer->gate->weight.t())) *
                                     torch::matmul(n, layer->up->weight.t()),
                                 layer->down->weight.t());
  EXPECT_LT(max_diff(layer(x), h + layer->norm2_out(mlp)), 1e-5);
}

TEST(GroupedQueryAttention, EqualsMultiHeadAttentionWithEachKeyValueHeadRepeated) {
  ModelConfig grouped = ouro_tiny_model(1, /*n_kv_heads=*/2), full = grouped;
  full.n_kv_heads = 4;
  torch::manual_seed(4);
  CausalSelfAttention gqa(grouped), mha(full);
  ASSERT_EQ(gqa->qkv->weight.sizes(), torch::IntArrayRef({16 + 2 * 2 * 4, 16}));
  {
    torch::NoGradGuard g;
    const auto w = gqa->qkv->weight;          // [Q (16) | K (2 heads x 4) | V (2 heads x 4)]
    auto repeated = [&](std::int64_t from) {  // kv head j serves query heads 2j and 2j + 1
      return w.narrow(0, from, 8).view({2, 1, 4, 16}).expand({2, 2, 4, 16}).reshape({16, 16});
    };
    mha->qkv->weight.copy_(torch::cat({w.narrow(0, 0, 16), repeated(16), repeated(24)}));
    mha->proj->weight.copy_(gqa->proj->weight);
  }
  const auto x = torch::randn({2, 6, 16});
  EXPECT_LT(max_diff(gqa(x), mha(x)), 1e-6);
}

TEST(PretrainedLoopLM, TheFinalNormEndsEveryLoopAndTheHeadIsItsOwn) {
  torch::manual_seed(5);
  LoopLM model(ouro_tiny_model(), 16);
  model->eval();
  EXPECT_FALSE(model->pos_emb);
  ASSERT_TRUE(model->head);
  ForwardOptions o;
  o.n_loops = 3;
  o.keep_states = true;
  const auto out = model->forward(tokens(2, 6), o);
  for (int i = 1; i <= 3; ++i) {
    torch::Tensor x = out.states[static_cast<std::size_t>(i - 1)];
    for (const auto& layer : *model->core) x = layer->as<TransformerLayer>()->forward(x);
    EXPECT_LT(max_diff(out.states[static_cast<std::size_t>(i)], model->norm_f(x)), 1e-5);
  }
  EXPECT_LT(max_diff(out.logits, torch::matmul(out.state, model->head->weight.t())), 1e-5);
  EXPECT_EQ(parameter_count(ouro_tiny_model(), 16), static_cast<double>(count_parameters(*model)));
}

TEST(PretrainedLoopLM, CachedDecodingEqualsTheFullForwardAtEveryPosition) {
  for (int kv : {2, 4}) {
    torch::manual_seed(6);
    LoopLM model(ouro_tiny_model(2, kv), 16);
    model->eval();
    torch::NoGradGuard g;
    const auto seq = tokens(2, 10, 7);
    for (int depth : {1, 4}) {
      const auto full = model->forward(seq, depth).logits;
      DecodeCache cache;
      ForwardOptions o;
      o.n_loops = depth;
      o.cache = &cache;
      std::vector<torch::Tensor> parts{model->forward(seq.narrow(1, 0, 6), o).logits};
      for (int t = 6; t < 10; ++t) parts.push_back(model->forward(seq.narrow(1, t, 1), o).logits);
      EXPECT_LT(max_diff(torch::cat(parts, 1), full), 1e-5) << "kv " << kv << " depth " << depth;
    }
  }
}

TEST(PretrainedLoopLM, ThePenaltysDoubleBackwardReachesEveryWeight) {
  torch::manual_seed(8);
  LoopLM model(ouro_tiny_model(), 16);
  const auto out = model->forward(tokens(2, 6), 2);
  PowerIterationOptions opts;
  opts.iters = 2;
  const auto rho = power_iteration(model->state_map(out.input), out.state, opts);
  const auto loss = rho.pow(2).sum() + torch::nn::functional::cross_entropy(
                                           out.logits.flatten(0, 1), tokens(2, 6, 9).flatten());
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

TEST(PretrainedOptions, ConfigRefusesShapesTheyCannotTake) {
  Config c;
  c.model = ouro_tiny_model();
  c.model.n_kv_heads = 3;
  EXPECT_THROW(
      {
        try {
          validate(c);
        } catch (const ConfigError& e) {
          EXPECT_NE(std::string(e.what()).find("model.n_kv_heads = 3"), std::string::npos);
          throw;
        }
      },
      ConfigError);
  c.model = ouro_tiny_model();
  c.model.d_model = 12;  // head width 3: not rotatable in pairs
  EXPECT_THROW(validate(c), ConfigError);
}

}  // namespace
}  // namespace stars
