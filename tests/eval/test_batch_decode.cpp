// Batched generation equals one-at-a-time generation for prompts of different lengths:
// left padding with its positions hidden, and each row's positions counted from its own
// first token, over learned and rotary positions, prelude and coda layers, and each kind of
// adaptive exit. A test that fails if any token differs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <torch/torch.h>

#include "stars/data/tokenizer.hpp"
#include "stars/eval/decode.hpp"
#include "stars/model/looplm.hpp"
#include "stars/model/token_exit.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

struct Case {
  std::string name;
  ModelConfig model;
};

std::vector<Case> models() {
  ModelConfig learned = testing::tiny_model();
  learned.n_prelude_layers = 1;
  learned.n_coda_layers = 1;
  ModelConfig ouro = testing::ouro_tiny_model(2);
  ouro.exit_gate = true;
  return {{"learned positions, prelude and coda", learned}, {"ouro: rope, gqa, gate", ouro}};
}

/// Prompts of lengths 1..7 (in a shuffled order) over the tokenizer's characters.
std::vector<std::vector<std::int64_t>> prompts(const Tokenizer& tok) {
  torch::manual_seed(21);
  std::vector<std::vector<std::int64_t>> out;
  for (int len : {3, 7, 1, 5, 2, 6, 4, 7}) {
    const auto t = torch::randint(0, tok.pad_id(), {len}, torch::kLong);
    out.emplace_back(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + len);
  }
  return out;
}

void expect_rows_as_alone(LoopLM& model, const Tokenizer& tok, const DecodeOptions& o,
                          const std::string& what) {
  const auto ps = prompts(tok);
  const Decoded batch = greedy_decode_batch(model, ps, tok, o, torch::kCPU);
  double loops_alone = 0;
  for (std::size_t b = 0; b < ps.size(); ++b) {
    const auto one = torch::tensor(ps[b], torch::kLong).unsqueeze(0);
    const Decoded alone = greedy_decode(model, one, tok, o);
    loops_alone += alone.loop_sum;
    ASSERT_TRUE(torch::equal(batch.tokens[static_cast<std::int64_t>(b)], alone.tokens[0]))
        << what << ", prompt " << b << ": " << batch.tokens[static_cast<std::int64_t>(b)] << " vs "
        << alone.tokens[0];
  }
  EXPECT_DOUBLE_EQ(batch.loop_sum, loops_alone) << what;
  if (o.exit_tol > 0 || o.token_exit.on()) {  // the exit is exercised: some tokens stop early
    EXPECT_LT(batch.loop_sum / static_cast<double>(batch.loop_count), o.n_loops) << what;
  }
}

TEST(BatchDecode, RowsOfDifferentLengthsDecodeAsTheyDoAlone) {
  const Tokenizer tok = Tokenizer::arithmetic();
  for (const auto& c : models()) {
    torch::manual_seed(8);
    LoopLM model(c.model, tok.vocab_size());
    model->eval();
    DecodeOptions o;
    o.n_loops = 5;
    o.max_new_tokens = 8;
    expect_rows_as_alone(model, tok, o, c.name + ", no exit");
    o.exit_tol = 0.5;
    expect_rows_as_alone(model, tok, o, c.name + ", exit_tol");
    o.exit_tol = 0;
    for (const std::string rule : {"residual:0.5", "kl:0.01"}) {
      o.token_exit = parse_token_exit(rule, "test");
      expect_rows_as_alone(model, tok, o, c.name + ", " + rule);
    }
    if (c.model.exit_gate) {
      o.token_exit = parse_token_exit("gate:0.6", "test");
      expect_rows_as_alone(model, tok, o, c.name + ", gate:0.6");
    }
  }
}

TEST(BatchDecode, PaddingNeedsTheCache) {
  const Tokenizer tok = Tokenizer::arithmetic();
  LoopLM model(testing::tiny_model(), tok.vocab_size());
  DecodeOptions o;
  o.use_cache = false;
  EXPECT_THROW(greedy_decode(model, torch::zeros({2, 3}, torch::kLong), tok, o,
                             torch::tensor({1, 0}, torch::kLong)),
               std::invalid_argument);
}

}  // namespace
}  // namespace stars
