// Bits per byte by depth and sampling from a prompt.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "stars/data/text.hpp"
#include "stars/eval/sample.hpp"
#include "stars/eval/text_eval.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

LoopLM byte_model() {
  torch::manual_seed(5);
  LoopLM model(testing::tiny_model(), Tokenizer::bytes().vocab_size());
  model->eval();
  return model;
}

std::string some_text() {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the loop runs " + std::to_string(i) + " times. ";
  return text;
}

TEST(TextEval, BitsPerByteAtEachDepthEqualTheForwardPassAtThatDepth) {
  LoopLM model = byte_model();
  const Batch windows = text_windows(some_text(), 16, 12, torch::kCPU);
  SweepOptions opts;
  opts.depths = {0, 1, 3, 7};
  opts.batch = 5;  // batches of 5, 5 and 2 windows
  const auto rows = text_depth_sweep(model, windows, opts);
  ASSERT_EQ(rows.size(), 4u);
  torch::NoGradGuard no_grad;
  for (const auto& r : rows) {
    const auto logits = model->forward(windows.inputs, r.depth).logits;
    const double nats = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                             windows.targets.reshape({-1}))
                            .item<double>();
    EXPECT_NEAR(r.bits_per_byte, nats / std::log(2.0), 1e-4) << "depth " << r.depth;
    EXPECT_EQ(r.bytes, 12 * 16);
    EXPECT_NEAR(r.perplexity(), std::exp(nats), 1e-3);
  }
  // An untrained model over 258 tokens is near uniform: about log2(258) = 8 bits per byte.
  EXPECT_GT(rows[0].bits_per_byte, 6.0);
}

TEST(TextEval, AdaptiveExitAndDiagnosticsReportPerDepth) {
  LoopLM model = byte_model();
  const Batch windows = text_windows(some_text(), 16, 4, torch::kCPU);
  SweepOptions opts;
  opts.depths = {2, 8};
  opts.exit_tol = 1e9;  // every sequence exits after its first loop
  opts.diagnostics = true;
  opts.diagnostics_n = 2;
  const auto rows = text_depth_sweep(model, windows, opts);
  ASSERT_TRUE(rows[1].mean_loops.has_value());
  EXPECT_DOUBLE_EQ(*rows[1].mean_loops, 1.0);
  ASSERT_TRUE(rows[1].diag.has_value());
  EXPECT_GT(rows[1].diag->rho_max, 0.0);
  EXPECT_FALSE(std::isnan(rows[1].diag->residual));
}

TEST(TextEval, SamplingRepeatsWithItsSeedAndGreedyFollowsTheArgmax) {
  LoopLM model = byte_model();
  const Tokenizer tok = Tokenizer::bytes();
  SampleOptions opts;
  opts.max_new_tokens = 40;  // past max_len (32): the context is cut and re-encoded
  opts.stop_at_eos = false;
  opts.seed = 11;
  const Sample a = sample_text(model, tok, "the loop", opts, torch::kCPU);
  EXPECT_EQ(a.tokens, 40);
  EXPECT_EQ(a.ids, sample_text(model, tok, "the loop", opts, torch::kCPU).ids);
  opts.seed = 12;
  EXPECT_NE(a.ids, sample_text(model, tok, "the loop", opts, torch::kCPU).ids);

  opts.temperature = 0;
  opts.max_new_tokens = 3;
  const Sample greedy = sample_text(model, tok, "the loop", opts, torch::kCPU);
  std::vector<std::int64_t> ids = tok.encode("the loop");
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) {
    const auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
    ids.push_back(model->forward(input, opts.n_loops).logits[0][-1].argmax().item<std::int64_t>());
  }
  EXPECT_EQ(greedy.ids, std::vector<std::int64_t>(ids.end() - 3, ids.end()));
}

TEST(TextEval, TopOneSamplingIsGreedy) {
  LoopLM model = byte_model();
  SampleOptions opts;
  opts.max_new_tokens = 10;
  opts.stop_at_eos = false;
  opts.temperature = 1.5;
  opts.top_k = 1;
  SampleOptions greedy = opts;
  greedy.temperature = 0;
  const Tokenizer tok = Tokenizer::bytes();
  EXPECT_EQ(sample_text(model, tok, "abc", opts, torch::kCPU).ids,
            sample_text(model, tok, "abc", greedy, torch::kCPU).ids);
}

}  // namespace
}  // namespace stars
