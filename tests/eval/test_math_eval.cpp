// Maths answers of a chat model by depth: each problem decodes in a batch as it would alone,
// the counts add up, the token limit is kept and counted, and a prompt that leaves no room
// to answer is refused by its number, and the predictions file is JSON whatever the bytes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/math_eval.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

const BpeTokenizer& tiny() {
  static const BpeTokenizer tok = BpeTokenizer::load(
      std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/chatml-tiny/tokenizer.json");
  return tok;
}

MathProblem problem(const std::string& question, const std::string& answer) {
  return {{{"user", question}}, normalize_answer(answer)};
}

LoopLM chat_model(int max_len) {
  ModelConfig m = testing::ouro_tiny_model();
  m.max_len = max_len;
  torch::manual_seed(4);
  return LoopLM(m, tiny().vocab_size());
}

TEST(MathEval, EachProblemAnswersAsItWouldAloneAndTheCountsAddUp) {
  LoopLM model = chat_model(64);
  const std::vector<MathProblem> problems = {
      problem("What is 2 + 2?", "4"), problem("Add 13 and 29.", "42"), problem("Half of 10?", "5")};
  MathEvalOptions opts;
  opts.depths = {1, 3};
  opts.max_new_tokens = 6;
  opts.batch = 2;
  const MathSweep sweep = math_depth_sweep(model, tiny(), problems, opts, torch::kCPU);
  ASSERT_EQ(sweep.rows.size(), 2u);
  ASSERT_EQ(sweep.predictions.size(), 6u);
  const std::int64_t eos = *tiny().id_of("<|im_end|>");
  for (const MathPrediction& p : sweep.predictions) {
    DecodeOptions alone;
    alone.n_loops = p.depth;
    alone.max_new_tokens = 6;
    const auto prompt = chat_prompt(problems[p.problem].prompt, tiny(), {});
    const Decoded d = greedy_decode(model, torch::tensor(prompt).unsqueeze(0), eos, alone);
    std::vector<std::int64_t> ids;
    for (std::int64_t t = 0; t < d.tokens.size(1) && d.tokens[0][t].item<std::int64_t>() != eos;
         ++t)
      ids.push_back(d.tokens[0][t].item<std::int64_t>());
    EXPECT_EQ(p.text, tiny().decode(ids)) << "problem " << p.problem << " depth " << p.depth;
    EXPECT_EQ(p.answer, extract_answer(p.text));
    EXPECT_EQ(p.correct, answers_match(p.answer, problems[p.problem].reference));
  }
  for (const MathDepthResult& r : sweep.rows) {
    EXPECT_EQ(r.n, 3);
    EXPECT_LE(r.mean_tokens, 6.0);
    EXPECT_DOUBLE_EQ(r.mean_loops, r.depth);  // no exit: every token runs every loop
    int correct = 0;
    for (const MathPrediction& p : sweep.predictions)
      if (p.depth == r.depth) correct += p.correct ? 1 : 0;
    EXPECT_EQ(r.correct, correct);
    EXPECT_LE(r.unfinished, r.n);
  }
}

TEST(MathEval, RefusesAPromptThatLeavesNoRoomToAnswer) {
  LoopLM model = chat_model(24);
  const std::vector<MathProblem> problems = {problem("1+1?", "2"),
                                             problem(std::string(200, 'x') + " what is 3?", "3")};
  MathEvalOptions opts;
  opts.depths = {2};
  try {
    math_depth_sweep(model, tiny(), problems, opts, torch::kCPU);
    FAIL() << "a prompt longer than model.max_len was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("problem 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.max_len = 24"), std::string::npos) << e.what();
  }
}

TEST(MathEval, PredictionsOfAnAnswerCutInsideACharacterStayValidJson) {
  MathSweep sweep;
  // "é" is 0xC3 0xA9: a turn that stops after the first byte is not UTF-8.
  sweep.predictions.push_back({4, 0, "x = \xC3", "", false});
  const std::string line = predictions_jsonl(sweep, {problem("1+1?", "2")});
  const nlohmann::json row = nlohmann::json::parse(line);
  EXPECT_EQ(row["text"], "x = \xEF\xBF\xBD");  // U+FFFD, the replacement character
  EXPECT_EQ(row["depth"], 4);
  EXPECT_EQ(row["reference"], "2");
}

}  // namespace
}  // namespace stars
