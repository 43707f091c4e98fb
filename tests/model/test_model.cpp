#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/eval/decode.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/attention_probe.hpp"
#include "stars/model/layer.hpp"
#include "stars/model/looplm.hpp"
#include "stars/model/norm.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

using testing::tiny_model;

torch::Tensor tokens(std::int64_t B, std::int64_t T, std::int64_t seed = 0) {
  torch::manual_seed(seed);
  return torch::randint(0, 14, {B, T}, torch::kLong);
}

TEST(Norm, EachTypeMatchesItsFormula) {
  torch::manual_seed(0);
  auto x = torch::randn({3, 5, 8});
  Norm ln(NormType::layernorm, 8), rms(NormType::rmsnorm, 8), simple(NormType::simplenorm, 8);
  const auto mean = x.mean(-1, true), var = x.var(-1, false, true);
  const auto standard = (x - mean) / torch::sqrt(var + 1e-5);
  EXPECT_TRUE(torch::allclose(ln(x), standard, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(simple(x), standard, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(rms(x), x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-5), 1e-5, 1e-5));
  {
    ComposedOpsGuard composed;  // the elementary-op form gives the same values
    EXPECT_TRUE(torch::allclose(ln(x), standard, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(simple(x), standard, 1e-5, 1e-5));
  }
  EXPECT_FALSE(ComposedOpsGuard::active());
  EXPECT_EQ(simple->parameters().size(), 0u);
  EXPECT_EQ(rms->parameters().size(), 1u);
  EXPECT_EQ(ln->parameters().size(), 2u);
}

TEST(Placement, EachPlacementMatchesItsFormula) {
  torch::manual_seed(1);
  auto x = torch::randn({2, 3, 8});
  Norm n_in(NormType::rmsnorm, 8), n_out(NormType::rmsnorm, 8);
  {
    torch::NoGradGuard g;
    n_in->named_parameters()["weight"].fill_(2.0);  // make N_in and N_out distinguishable
    n_out->named_parameters()["weight"].fill_(0.5);
  }
  auto f = [](const torch::Tensor& h) { return torch::tanh(h) * 3.0 + 1.0; };
  auto N1 = [&](const torch::Tensor& h) { return n_in(h); };
  auto N2 = [&](const torch::Tensor& h) { return n_out(h); };
  auto check = [&](NormPlacement p, const torch::Tensor& want) {
    EXPECT_TRUE(torch::allclose(apply_placement(p, x, f, n_in, n_out), want, 1e-6, 1e-6))
        << to_string(p);
  };
  check(NormPlacement::pre, x + f(N1(x)));
  check(NormPlacement::post, N2(x + f(x)));
  check(NormPlacement::pre_sandwich, x + N2(f(N1(x))));
  check(NormPlacement::post_sandwich, N2(x + f(N1(x))));
}

TEST(LoopLM, IsCausal) {
  for (auto p : {NormPlacement::pre, NormPlacement::post_sandwich}) {
    LoopLM model(tiny_model(p), 16);
    model->eval();
    auto a = tokens(2, 10), b = a.clone();
    b.index_put_({torch::indexing::Slice(), 7}, (a.index({torch::indexing::Slice(), 7}) + 1) % 14);
    auto la = model->forward(a, 3).logits, lb = model->forward(b, 3).logits;
    EXPECT_TRUE(torch::allclose(la.narrow(1, 0, 7), lb.narrow(1, 0, 7), 1e-6, 1e-6));
    EXPECT_FALSE(torch::allclose(la.narrow(1, 7, 1), lb.narrow(1, 7, 1)));
  }
}

TEST(LoopLM, ZeroAndOneLoopsAreDocumentedCompositions) {
  LoopLM model(tiny_model(), 16);
  model->eval();
  auto x = tokens(2, 6);
  auto out0 = model->forward(x, 0);
  const auto e = model->embed(x);
  EXPECT_TRUE(torch::allclose(out0.state, e));  // no loop: h_0 = e
  EXPECT_TRUE(torch::allclose(out0.logits, model->readout(e), 1e-6, 1e-6));
  auto out1 = model->forward(x, 1);
  EXPECT_TRUE(torch::allclose(out1.state, model->core_step(e, e), 1e-6, 1e-6));
}

TEST(LoopLM, KeepsOneStatePerLoop) {
  LoopLM model(tiny_model(), 16);
  model->eval();
  ForwardOptions o;
  o.n_loops = 5;
  o.keep_states = true;
  auto out = model->forward(tokens(2, 6), o);
  ASSERT_EQ(out.states.size(), 6u);  // h_0 .. h_5
  EXPECT_TRUE(torch::allclose(out.states.back(), out.state));
  EXPECT_TRUE(
      torch::allclose(out.states[3], model->core_step(out.states[2], out.input), 1e-6, 1e-6));
}

TEST(LoopLM, ParameterCountFromTheConfigMatchesTheBuiltModel) {
  for (auto placement : {NormPlacement::pre, NormPlacement::post, NormPlacement::pre_sandwich,
                         NormPlacement::post_sandwich})
    for (auto norm : {NormType::layernorm, NormType::rmsnorm, NormType::simplenorm})
      for (auto inject : {Injection::none, Injection::concat}) {
        ModelConfig m = tiny_model(placement);
        m.norm_type = norm;
        m.inject = inject;
        m.n_prelude_layers = 1;
        m.n_coda_layers = 2;
        EXPECT_EQ(parameter_count(m, 16), static_cast<double>(count_parameters(*LoopLM(m, 16))))
            << to_string(placement) << " " << to_string(norm) << " " << to_string(inject);
      }
}

TEST(LoopLM, ParameterCountDoesNotDependOnLoopsAndHeadIsTied) {
  LoopLM model(tiny_model(), 16);
  const auto n = count_parameters(*model);
  model->forward(tokens(1, 4), 1);
  model->forward(tokens(1, 4), 9);
  EXPECT_EQ(count_parameters(*model), n);
  for (const auto& item : model->named_parameters())
    EXPECT_EQ(item.key().find("head"), std::string::npos);
  // Changing the token embedding changes the output projection.
  model->eval();
  auto x = tokens(1, 4);
  auto before = model->forward(x, 2).logits;
  {
    torch::NoGradGuard g;
    model->tok_emb->weight[3] += torch::randn({16});  // not constant: norm_f output sums to ~0
  }
  auto h = model->forward(x, 2).state;
  auto want = torch::matmul(model->norm_f(h), model->tok_emb->weight.t());
  EXPECT_TRUE(torch::allclose(model->forward(x, 2).logits, want, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(before, want));
}

TEST(LoopLM, EveryInjectionAndNormTypeRuns) {
  for (auto inj : {Injection::none, Injection::add, Injection::concat})
    for (auto nt : {NormType::layernorm, NormType::rmsnorm, NormType::simplenorm}) {
      ModelConfig m = tiny_model();
      m.inject = inj;
      m.norm_type = nt;
      m.n_prelude_layers = 1;
      m.n_coda_layers = 1;
      LoopLM model(m, 16);
      auto out = model->forward(tokens(2, 5), 3);
      EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 5, 16}));
      EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    }
}

TEST(LoopLM, CachedDecodingEqualsFullRecompute) {
  ModelConfig m = tiny_model();
  m.n_prelude_layers = 1;
  m.n_coda_layers = 1;
  m.inject = Injection::add;
  LoopLM model(m, 16);
  model->eval();
  torch::NoGradGuard g;
  auto seq = tokens(3, 12);
  for (int depth : {1, 4, 9}) {
    const auto full = model->forward(seq, depth).logits;  // (B, 12, V)
    DecodeCache cache;
    ForwardOptions o;
    o.n_loops = depth;
    o.cache = &cache;
    auto first = model->forward(seq.narrow(1, 0, 8), o).logits;
    std::vector<torch::Tensor> parts{first};
    for (int t = 8; t < 12; ++t) parts.push_back(model->forward(seq.narrow(1, t, 1), o).logits);
    const auto cached = torch::cat(parts, 1);
    EXPECT_LT((cached - full).abs().max().item<double>(), 1e-5) << "depth " << depth;
  }
}

TEST(AttentionProbe, RecordsTheLastPositionsWeightsForEveryLayerRunAndNothingCached) {
  ModelConfig m = tiny_model();
  m.n_prelude_layers = 1;
  m.n_core_layers = 2;
  LoopLM model(m, 16);
  model->eval();
  torch::NoGradGuard g;
  const auto seq = tokens(3, 7);
  {
    AttentionProbe probe;
    EXPECT_EQ(AttentionProbe::active(), &probe);
    EXPECT_THROW(AttentionProbe{}, std::logic_error);  // one recorder per thread
    model->forward(seq, 4);
    ASSERT_EQ(probe.rows().size(), 1u + 2u * 4u);  // the prelude, then 2 core layers x 4 loops
    for (const auto& row : probe.rows()) {
      EXPECT_EQ(row.sizes(), (std::vector<int64_t>{3, 2, 7}));  // (B, heads, keys)
      EXPECT_TRUE(torch::allclose(row.sum(-1), torch::ones({3, 2}), 1e-5, 1e-5));
    }
    // A decoding step attends to a cached prefix that the probe cannot see: not recorded.
    DecodeCache cache;
    ForwardOptions o;
    o.n_loops = 2;
    o.cache = &cache;
    model->forward(seq.narrow(1, 0, 6), o);
    const auto recorded = probe.rows().size();
    model->forward(seq.narrow(1, 6, 1), o);
    EXPECT_EQ(probe.rows().size(), recorded);
  }
  EXPECT_EQ(AttentionProbe::active(), nullptr);
  // With zero query/key projections every score is equal: the weights are uniform, 1/T.
  auto* attn = model->core[0]->as<TransformerLayer>()->attn.get();
  attn->qkv->weight.narrow(0, 0, 2 * m.d_model).zero_();
  attn->qkv->bias.narrow(0, 0, 2 * m.d_model).zero_();
  const auto e = model->embed(seq);  // outside the probe: the prelude's layer is not wanted
  AttentionProbe probe;
  model->core_step(e, e);
  ASSERT_EQ(probe.rows().size(), 2u);  // the two core layers
  EXPECT_TRUE(torch::allclose(probe.rows()[0], torch::full({3, 2, 7}, 1.0 / 7), 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(probe.rows()[1], torch::full({3, 2, 7}, 1.0 / 7), 1e-3, 1e-3));
}

TEST(AttentionProbe, AllQueriesGiveTheCausalWeightsOfEveryPosition) {
  ModelConfig m = tiny_model();
  LoopLM model(m, 16);
  model->eval();
  torch::NoGradGuard g;
  // With zero query/key projections, query q weighs its q + 1 visible keys equally.
  auto* attn = model->core[0]->as<TransformerLayer>()->attn.get();
  attn->qkv->weight.narrow(0, 0, 2 * m.d_model).zero_();
  attn->qkv->bias.narrow(0, 0, 2 * m.d_model).zero_();
  const auto e = model->embed(tokens(3, 5));
  AttentionProbe probe(ProbedQueries::all);
  model->core_step(e, e);
  ASSERT_EQ(probe.rows().size(), 1u);
  const auto w = probe.rows()[0];
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{3, 2, 5, 5}));  // (B, heads, queries, keys)
  const auto visible = torch::ones({5, 5}).tril();
  const auto want = visible / visible.sum(-1, true);
  EXPECT_TRUE(torch::allclose(w, want.expand({3, 2, 5, 5}), 1e-6, 1e-6)) << w[0][0];
}

TEST(LoopLM, LongerThanMaxLenIsAnError) {
  LoopLM model(tiny_model(), 16);
  EXPECT_ANY_THROW(model->forward(tokens(1, 40), 1));
}

}  // namespace
}  // namespace stars

namespace stars {
namespace {

TEST(LoopLM, TruncatedBackpropKeepsGradientsOutOfEarlyLoops) {
  LoopLM model(tiny_model(), 16);
  ForwardOptions o;
  o.n_loops = 6;
  o.backprop_depth = 2;  // loops 1..4 run without a graph
  auto out = model->forward(tokens(2, 5), o);
  out.logits.sum().backward();
  // Positions reach the logits only through the loops, whose graph starts at loop 5.
  EXPECT_FALSE(model->pos_emb->weight.grad().defined() &&
               model->pos_emb->weight.grad().abs().sum().item<double>() > 0);
  double core = 0;
  for (const auto& p : model->core->parameters()) core += p.grad().abs().sum().item<double>();
  EXPECT_GT(core, 0.0);
  model->zero_grad();
  o.backprop_depth = 0;  // full backprop: positions do get gradients
  model->forward(tokens(2, 5), o).logits.sum().backward();
  EXPECT_GT(model->pos_emb->weight.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace stars
