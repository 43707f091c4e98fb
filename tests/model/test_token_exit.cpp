// Per-token exit: each criterion against its formula on positions that cannot see each
// other (one-token sequences), and the state-propagation rule on whole sequences: cached
// token-by-token decoding equals the full forward, and a batch equals its rows run alone.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <string>

#include <torch/torch.h>

#include "stars/config/errors.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/eval/decode.hpp"
#include "stars/model/exit_gate.hpp"
#include "stars/model/looplm.hpp"
#include "stars/model/token_exit.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

constexpr std::int64_t kVocab = 16;

LoopLM gated_model(std::uint64_t seed = 5) {
  ModelConfig m = testing::ouro_tiny_model(/*n_core_layers=*/1);
  m.exit_gate = true;
  torch::manual_seed(seed);
  LoopLM model(m, kVocab);
  {  // a gate far from 0: exit probabilities that vary across positions and loops
    torch::NoGradGuard no_grad;
    model->exit_gate->weight.normal_(0.0, 1.0);
  }
  model->eval();
  return model;
}

torch::Tensor tokens(std::int64_t B, std::int64_t T, std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  return torch::randint(0, kVocab, {B, T}, torch::kLong);
}

LoopOutput run(LoopLM& model, const torch::Tensor& x, int loops, const std::string& rule,
               DecodeCache* cache = nullptr) {
  ForwardOptions o;
  o.n_loops = loops;
  o.token_exit = parse_token_exit(rule, "test");
  o.cache = cache;
  return model->forward(x, o);
}

/// States h_0..h_n of the plain forward (every position loops n times).
std::vector<torch::Tensor> plain_states(LoopLM& model, const torch::Tensor& x, int n) {
  ForwardOptions o;
  o.n_loops = n;
  o.keep_states = true;
  return model->forward(x, o).states;
}

/// `value` as text that reads back exactly.
std::string exact(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

/// First loop t in 1..n at which met(t) holds for row b, else n.
template <typename Met>
std::int64_t first_loop(int n, Met met) {
  for (int t = 1; t < n; ++t)
    if (met(t)) return t;
  return n;
}

TEST(TokenExit, SpecsParseAndNameThemselves) {
  const TokenExit kl = parse_token_exit("kl:0.001", "--exit");
  EXPECT_EQ(kl.criterion, ExitCriterion::kl);
  EXPECT_DOUBLE_EQ(kl.threshold, 0.001);
  EXPECT_EQ(token_exit_name(kl), "kl:0.001");
  EXPECT_EQ(token_exit_name(parse_token_exit("expected", "x")), "expected");
  EXPECT_FALSE(parse_token_exit("off", "x").on());
  for (const char* bad : {"kl", "gate:1.5", "gate:0", "expected:1", "halt:1", "residual:-1",
                          "residual:abc", "entropy:", "residual:nan"}) {
    try {
      parse_token_exit(bad, "--exit");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("--exit: \"") + bad), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("gate:P (0 < P <= 1)"), std::string::npos);
    }
  }
}

TEST(TokenExit, ThresholdsAtTheExtremesGiveOneLoopOrAll) {
  LoopLM model = gated_model();
  const auto x = tokens(3, 7);
  const LoopOutput never = run(model, x, 5, "residual:1e-30");
  EXPECT_TRUE(never.token_loops.eq(5).all().item<bool>());
  EXPECT_TRUE(torch::allclose(never.logits, model->forward(x, 5).logits, 0, 0));
  const LoopOutput at_once = run(model, x, 5, "residual:1e30");
  EXPECT_TRUE(at_once.token_loops.eq(1).all().item<bool>());
  EXPECT_TRUE(torch::allclose(at_once.logits, model->forward(x, 1).logits, 1e-6, 1e-6));
}

// One-token sequences: no position attends to another, so each criterion can be checked on
// the plain forward's states.
TEST(TokenExit, EachCriterionStopsAtTheLoopItsFormulaNames) {
  LoopLM model = gated_model();
  const int n = 8;
  const auto x = tokens(24, 1);
  const auto h = plain_states(model, x, n);
  std::vector<torch::Tensor> logp;
  for (const auto& s : h) logp.push_back(torch::log_softmax(model->readout(s), -1).squeeze(1));
  std::vector<torch::Tensor> lambda;
  for (int t = 1; t <= n; ++t) lambda.push_back(exit_probability(model, h[t]).squeeze(1));
  const auto residual = [&](int t) {
    return ((h[t] - h[t - 1]).norm(2, -1) / h[t - 1].norm(2, -1)).squeeze(1);
  };
  const auto kl = [&](int t) { return (logp[t].exp() * (logp[t] - logp[t - 1])).sum(-1); };
  const auto entropy = [&](int t) { return -(logp[t].exp() * logp[t]).sum(-1); };
  const auto p = exit_distribution(lambda);  // (n, B)
  std::vector<torch::Tensor> cdf{p[0]};      // summed in loop order, as the exit does
  for (int t = 1; t < n; ++t) cdf.push_back(cdf.back() + p[t]);
  struct Case {
    std::string rule;
    std::function<torch::Tensor(int)> met;  // (B) bool at loop t
  };
  // Each threshold is a median of its signal, so that positions stop at different loops.
  const double r = torch::stack({residual(2), residual(3)}).median().item<double>();
  const double k = torch::stack({kl(2), kl(3)}).median().item<double>();
  const double e = (entropy(3) - entropy(2)).abs().median().item<double>();
  const double q = cdf[2].median().item<double>();
  const std::vector<Case> cases = {
      {"residual:" + exact(r), [&](int t) { return residual(t) < r; }},
      {"kl:" + exact(k), [&](int t) { return kl(t) < k; }},
      {"entropy:" + exact(e), [&](int t) { return (entropy(t) - entropy(t - 1)).abs() < e; }},
      {"gate:" + exact(q), [&](int t) { return cdf[t - 1] >= q; }}};
  for (const auto& c : cases) {
    const LoopOutput out = run(model, x, n, c.rule);
    const auto loops = out.token_loops.squeeze(1);
    EXPECT_LT(loops.min().item<std::int64_t>(), loops.max().item<std::int64_t>()) << c.rule;
    for (std::int64_t b = 0; b < x.size(0); ++b) {
      const auto want = first_loop(n, [&](int t) { return c.met(t)[b].item<bool>(); });
      ASSERT_EQ(loops[b].item<std::int64_t>(), want) << c.rule << " row " << b;
      // the position keeps the state of the loop it stopped at
      EXPECT_TRUE(torch::allclose(out.state[b], h[static_cast<std::size_t>(want)][b], 1e-5, 1e-5))
          << c.rule << " row " << b;
    }
  }
}

TEST(TokenExit, ExpectedLogitsWeighEveryLoopByTheGatesDistribution) {
  LoopLM model = gated_model();
  const int n = 6;
  const auto x = tokens(2, 5);
  const auto h = plain_states(model, x, n);
  std::vector<torch::Tensor> lambda;
  for (int t = 1; t <= n; ++t) lambda.push_back(exit_probability(model, h[t]));
  const auto p = exit_distribution(lambda);  // (n, B, T)
  torch::Tensor want = torch::zeros({2, 5, kVocab});
  for (int t = 1; t <= n; ++t) want += p[t - 1].unsqueeze(-1) * model->readout(h[t]);
  const LoopOutput out = run(model, x, n, "expected");
  EXPECT_TRUE(out.token_loops.eq(n).all().item<bool>());
  EXPECT_TRUE(torch::allclose(out.logits, want, 1e-5, 1e-6));
}

TEST(TokenExit, TheGateRulesNeedAModelWithAGate) {
  ModelConfig m = testing::ouro_tiny_model(1);
  LoopLM model(m, kVocab);
  EXPECT_THROW(run(model, tokens(1, 3), 4, "gate:0.5"), ConfigError);
  ForwardOptions both;
  both.exit_tol = 0.1;
  both.token_exit = parse_token_exit("kl:0.1", "test");
  EXPECT_THROW(model->forward(tokens(1, 3), both), std::invalid_argument);
}

// Whole sequences: positions stop at different loops and later positions attend to them.
TEST(TokenExit, CachedTokenByTokenEqualsTheFullForwardAndRowsEqualTheBatch) {
  LoopLM model = gated_model();
  const int n = 7;
  const auto x = tokens(3, 9, 4);
  for (const std::string rule : {"residual:0.3", "kl:0.002", "entropy:0.01", "gate:0.6"}) {
    const LoopOutput full = run(model, x, n, rule);
    const auto loops = full.token_loops;
    EXPECT_LT(loops.min().item<std::int64_t>(), loops.max().item<std::int64_t>()) << rule;
    DecodeCache cache;
    for (std::int64_t t = 0; t < x.size(1); ++t) {
      const LoopOutput one = run(model, x.narrow(1, t, 1), n, rule, &cache);
      ASSERT_TRUE(torch::equal(one.token_loops.squeeze(1), loops.select(1, t))) << rule << t;
      EXPECT_TRUE(torch::allclose(one.logits.squeeze(1), full.logits.select(1, t), 1e-4, 1e-5))
          << rule << " position " << t;
    }
    for (std::int64_t b = 0; b < x.size(0); ++b) {
      const LoopOutput alone = run(model, x.narrow(0, b, 1), n, rule);
      EXPECT_TRUE(torch::equal(alone.token_loops[0], loops[b])) << rule << " row " << b;
      EXPECT_TRUE(torch::allclose(alone.logits[0], full.logits[b], 1e-5, 1e-6)) << rule;
    }
  }
}

TEST(TokenExit, GreedyDecodingWithTheCacheEqualsRecomputingAndCountsLoopsPerToken) {
  LoopLM model = gated_model(9);
  const Tokenizer tok = Tokenizer::arithmetic();
  ASSERT_LE(tok.vocab_size(), kVocab);
  DecodeOptions o;
  o.n_loops = 6;
  o.max_new_tokens = 8;
  o.token_exit = parse_token_exit("kl:0.002", "test");
  const auto prompts = tokens(4, 5, 7).remainder(tok.vocab_size() - 2);
  const Decoded cached = greedy_decode(model, prompts, tok, o);
  o.use_cache = false;
  const Decoded recomputed = greedy_decode(model, prompts, tok, o);
  EXPECT_TRUE(torch::equal(cached.tokens, recomputed.tokens));
  EXPECT_DOUBLE_EQ(cached.loop_sum, recomputed.loop_sum);
  const double mean = cached.loop_sum / static_cast<double>(cached.loop_count);
  EXPECT_GE(mean, 1.0);
  EXPECT_LT(mean, 6.0);  // some tokens stopped early
}

}  // namespace
}  // namespace stars
