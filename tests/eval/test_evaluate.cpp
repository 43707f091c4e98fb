#include <cstdio>
#include <set>

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/data/batch.hpp"
#include "stars/data/task.hpp"
#include "stars/eval/answer_attention.hpp"
#include "stars/eval/answer_loss.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/difficulty_grid.hpp"
#include "stars/eval/evaluate.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

using testing::tiny_model;

std::vector<Example> problems(int n) {
  DataConfig d;
  d.digits = 2;
  return make_task(d)->sample_batch(n, 5, 0);
}

TEST(Decode, CacheGivesTheSameAnswers) {
  torch::manual_seed(0);
  LoopLM model(tiny_model(NormPlacement::post_sandwich), 16);
  model->eval();
  const Tokenizer tok = Tokenizer::arithmetic();
  const auto ex = problems(40);
  for (int depth : {1, 3, 8}) {
    DecodeOptions cached, plain;
    cached.n_loops = plain.n_loops = depth;
    plain.use_cache = false;
    EXPECT_EQ(decode_answers(model, ex, tok, cached, 16, torch::kCPU).texts,
              decode_answers(model, ex, tok, plain, 16, torch::kCPU).texts);
  }
}

TEST(Decode, AllDepthsInOnePassGiveEachDepthsTokens) {
  // An untrained model answers differently at most depths, so the shared pass must split
  // its branches at many tokens; a prelude layer's cache is reordered with them.
  for (int prelude : {0, 1}) {
    torch::manual_seed(1);
    ModelConfig m = tiny_model(NormPlacement::pre);
    m.n_prelude_layers = prelude;
    m.init_std = 0.3;
    LoopLM model(m, 16);
    model->eval();
    const Tokenizer tok = Tokenizer::arithmetic();
    const auto ex = problems(40);
    const std::vector<int> depths{7, 0, 1, 2, 3, 5, 12, 30};  // any order, with 0
    DecodeOptions opts;
    ASSERT_TRUE(can_share_depths(model, opts));
    const auto shared = decode_answers_at_depths(model, ex, tok, depths, opts, 16, torch::kCPU);
    std::set<std::vector<std::string>> distinct;
    for (std::size_t i = 0; i < depths.size(); ++i) {
      opts.n_loops = depths[i];
      EXPECT_EQ(shared[i].texts, decode_answers(model, ex, tok, opts, 16, torch::kCPU).texts)
          << "depth " << depths[i] << ", prelude " << prelude;
      distinct.insert(shared[i].texts);
    }
    EXPECT_GE(distinct.size(), 4u) << "the depths agree: the test exercises no branching";
  }
}

TEST(Sweep, PredictionsAreEachProblemsAnswerAndAgreeWithTheAccuracy) {
  torch::manual_seed(2);
  LoopLM model(tiny_model(), 16);
  const Tokenizer tok = Tokenizer::arithmetic();
  auto ex = problems(20);
  SweepOptions opts;
  opts.depths = {1, 3};
  opts.keep_outputs = true;
  auto rows = depth_sweep(model, ex, tok, opts, torch::kCPU);
  // An untrained model is right by chance at most; make two problems right by construction.
  rows[1].outputs[4] = " " + std::string(ex[4].answer.rbegin(), ex[4].answer.rend());
  rows[1].outputs[9] = ex[9].answer.size() > 1 ? "x" : "y";
  const auto records = prediction_records(rows, ex);
  ASSERT_EQ(records.size(), 40u);
  EXPECT_EQ(records[23]["depth"], 3);
  EXPECT_EQ(records[23]["prompt"], ex[3].prompt);
  EXPECT_EQ(records[23]["target"], ex[3].answer);
  EXPECT_EQ(records[24]["output"], rows[1].outputs[4]);
  EXPECT_TRUE(records[24]["correct"].get<bool>());
  EXPECT_FALSE(records[29]["correct"].get<bool>());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    int correct = 0;
    for (std::size_t i = 0; i < ex.size(); ++i)
      correct += records[r * 20 + i]["correct"].get<bool>();
    EXPECT_DOUBLE_EQ(correct / 20.0, score_answers(ex, rows[r].outputs)) << r;
  }
}

TEST(Decode, DepthsAreSharedOnlyWhereTheyCanBe) {
  LoopLM model(tiny_model(), 16);
  DecodeOptions opts;
  EXPECT_TRUE(can_share_depths(model, opts));
  opts.exit_tol = 1e-3;  // adaptive exit picks its own depth per sequence
  EXPECT_FALSE(can_share_depths(model, opts));
  opts.exit_tol = 0;
  opts.use_cache = false;
  EXPECT_FALSE(can_share_depths(model, opts));
  ModelConfig coda = tiny_model();
  coda.n_coda_layers = 1;  // a coda cache per depth
  LoopLM with_coda(coda, 16);
  EXPECT_FALSE(can_share_depths(with_coda, DecodeOptions{}));
}

TEST(AdaptiveExit, ContractiveModelRunsFewerLoops) {
  // A pre-norm block whose residual branches are scaled down is close to the identity:
  // h_{i+1} - h_i is tiny, so every sequence exits after the first loop.
  torch::manual_seed(0);
  LoopLM model(tiny_model(NormPlacement::pre), 16);
  {
    torch::NoGradGuard g;
    for (auto& p : model->core->parameters()) p.mul_(0.01);
  }
  model->eval();
  const Tokenizer tok = Tokenizer::arithmetic();
  DecodeOptions o;
  o.n_loops = 16;
  o.exit_tol = 1e-2;
  const auto adaptive = decode_answers(model, problems(20), tok, o, 20, torch::kCPU);
  EXPECT_LT(adaptive.mean_loops, 4.0);
  EXPECT_GE(adaptive.mean_loops, 1.0);
  o.exit_tol = 0;  // no adaptive exit: every token runs all loops
  EXPECT_DOUBLE_EQ(decode_answers(model, problems(20), tok, o, 20, torch::kCPU).mean_loops, 16.0);
  // With a tolerance no sequence can meet, every sequence runs all loops.
  o.exit_tol = 1e-30;
  EXPECT_DOUBLE_EQ(decode_answers(model, problems(20), tok, o, 20, torch::kCPU).mean_loops, 16.0);
}

TEST(Sweep, JsonAndCsvCarryEveryColumn) {
  torch::manual_seed(0);
  LoopLM model(tiny_model(NormPlacement::post_sandwich), 16);
  SweepOptions o;
  o.depths = {0, 1, 3};
  o.diagnostics = true;
  o.diagnostics_n = 8;
  o.exit_tol = 1e-3;
  o.max_new_tokens = 4;
  const auto rows = depth_sweep(model, problems(12), Tokenizer::arithmetic(), o, torch::kCPU);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    const auto j = to_json(r);
    for (const char* key : {"depth", "accuracy", "n", "mean_loops", "state_norm", "residual",
                            "rho_mean", "rho_max", "entropy"})
      EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["n"], 12);
    EXPECT_GE(j["accuracy"].get<double>(), 0.0);
    EXPECT_LE(j["accuracy"].get<double>(), 1.0);
    EXPECT_GE(r.diag->rho_max, r.diag->rho_mean);
  }
  EXPECT_TRUE(to_json(rows[0])["residual"].is_null());  // no previous state at depth 0
  EXPECT_FALSE(to_json(rows[1])["residual"].is_null());
  const std::string csv = to_csv(rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "depth,accuracy,n,mean_loops,state_norm,residual,rho_mean,rho_max,entropy");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
}

TEST(Sweep, PostNormKeepsStateNormBoundedWhilePreNormGrows) {
  // The paper's diagnosis, visible even at initialisation: external normalisation bounds
  // the state, internal normalisation lets the residual stream grow with depth.
  torch::manual_seed(0);
  LoopLM pre(tiny_model(NormPlacement::pre), 16),
      post(tiny_model(NormPlacement::post_sandwich), 16);
  const auto ex = problems(8);
  const Tokenizer tok = Tokenizer::arithmetic();
  SpectralRadiusOptions r{5, 1e-2, JacobianProduct::vjp};
  const auto dpre = dynamics_diagnostics(pre, ex, tok, {4, 64}, r, torch::kCPU);
  const auto dpost = dynamics_diagnostics(post, ex, tok, {4, 64}, r, torch::kCPU);
  EXPECT_GT(dpre[1].state_norm, 2 * dpre[0].state_norm);
  EXPECT_NEAR(dpost[1].state_norm, dpost[0].state_norm, 0.1 * dpost[0].state_norm);
}

TEST(Grid, OneCellPerDepthAndDifficultyAgreeingWithTheDepthSweep) {
  torch::manual_seed(0);
  ModelConfig m = tiny_model();
  m.max_len = 64;  // chain prompts are padded to the longest chain
  LoopLM model(m, 16);
  DataConfig d;
  d.task = "chain";
  const auto task = make_task(d);
  const Tokenizer tok = Tokenizer::arithmetic();
  SweepOptions o;
  o.depths = {1, 3};
  o.batch = 16;
  o.exit_tol = 1e-3;
  o.answer_loss = true;
  const auto cells = difficulty_sweep(model, *task, tok, {1, 6}, 12, 4, o, torch::kCPU);
  ASSERT_EQ(cells.size(), 4u);
  const std::vector<std::pair<int, int>> order{{1, 1}, {3, 1}, {1, 6}, {3, 6}};
  for (std::size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(cells[i].depth, order[i].first);
    EXPECT_EQ(cells[i].difficulty, order[i].second);
    EXPECT_EQ(cells[i].n, 12);
    ASSERT_TRUE(cells[i].mean_loops.has_value());
  }
  // A cell is the depth sweep of that difficulty's own problem set.
  o.max_new_tokens = task->answer_length(6) + 1;
  const auto rows = depth_sweep(model, task->sample_batch_at(12, 6, 4), tok, o, torch::kCPU);
  EXPECT_DOUBLE_EQ(cells[3].accuracy, rows[1].accuracy);
  EXPECT_DOUBLE_EQ(*cells[3].mean_loops, *rows[1].mean_loops);
  ASSERT_TRUE(cells[3].loss.has_value());
  EXPECT_DOUBLE_EQ(*cells[3].loss, *rows[1].loss);
  EXPECT_NE(*cells[1].loss, *cells[3].loss);  // each difficulty its own problems
  const std::string csv = grid_to_csv(cells);
  EXPECT_EQ(csv.rfind("depth,difficulty,accuracy,n,mean_loops,loss\n", 0), 0u) << csv;
  char loss[16];
  std::snprintf(loss, sizeof loss, "%.3f", *cells[3].loss);
  EXPECT_NE(grid_to_table(cells, GridValue::loss).find(loss), std::string::npos);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  const std::string table = grid_to_table(cells);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3) << table;  // header + 2 depths
  EXPECT_EQ(to_json(cells[2])["difficulty"], 6);
}

TEST(AnswerLoss, IsTheForwardPassCrossEntropyOnAnswersAtEachDepthInAnyBatching) {
  torch::manual_seed(0);
  LoopLM model(tiny_model(NormPlacement::post_sandwich), 16);
  model->eval();
  const auto ex = problems(10);
  const Tokenizer tok = Tokenizer::arithmetic();
  const std::vector<int> depths{3, 0, 2};
  // In batches of 3 (the last one short), against one forward pass per depth on all ten.
  const auto loss = answer_loss_at_depths(model, ex, tok, depths, 3, torch::kCPU);
  ASSERT_EQ(loss.size(), 3u);
  const Batch all = make_batch(ex, tok, torch::kCPU);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < depths.size(); ++i) {
    const auto logits = model->forward(all.inputs, depths[i]).logits;
    const double want =
        torch::nn::functional::cross_entropy(
            logits.reshape({-1, logits.size(-1)}), all.targets.reshape({-1}),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex))
            .item<double>();
    EXPECT_NEAR(loss[i], want, 1e-5) << "depth " << depths[i];
  }
  EXPECT_NE(loss[0], loss[2]);  // the depth is the one asked for
}

TEST(AnswerAttention, OneRecordPerProblemLoopAndLayerOverThePromptAndTheAnswerSpace) {
  torch::manual_seed(0);
  ModelConfig m = tiny_model();
  m.n_core_layers = 2;
  LoopLM model(m, 16);
  DataConfig d;
  d.task = "list_end";
  const auto task = make_task(d);
  const auto problems = task->sample_batch_at(3, 2, 9);
  const auto records =
      answer_attention_records(model, problems, Tokenizer::arithmetic(), 4, torch::kCPU, {2, 2, 2});
  ASSERT_EQ(records.size(), 3u * 4u * 2u);  // problems x loops x core layers
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    EXPECT_EQ(r["prompt"], problems[i / 8].prompt);
    EXPECT_EQ(r["difficulty"], 2);
    EXPECT_EQ(r["loop"], static_cast<int>(i % 8 / 2 + 1));
    EXPECT_EQ(r["layer"], static_cast<int>(i % 2));
    ASSERT_EQ(r["tokens"].size(), problems[i / 8].prompt.size() + 1);  // ..."=", then " "
    EXPECT_EQ(r["tokens"].back(), " ");
    ASSERT_EQ(r["weights"].size(), 2u);  // heads
    double total = 0;
    for (double w : r["weights"][1]) total += w;
    EXPECT_NEAR(total, 1.0, 1e-6);
  }
  EXPECT_THROW(answer_attention_records(model, problems, Tokenizer::arithmetic(), 0, torch::kCPU),
               std::invalid_argument);
  // Every query: one row per position, causal, and the last row is the answer position's.
  const auto all = answer_attention_records(model, problems, Tokenizer::arithmetic(), 4,
                                            torch::kCPU, {}, ProbedQueries::all);
  ASSERT_EQ(all.size(), records.size());
  EXPECT_EQ(records[5]["queries"], "last");
  EXPECT_EQ(all[5]["queries"], "all");
  const auto& rows = all[5]["weights"][1];  // problem 0, loop 3, layer 1, head 1
  const std::size_t t = problems[0].prompt.size() + 1;
  ASSERT_EQ(rows.size(), t);
  for (std::size_t q = 0; q < t; ++q) {
    ASSERT_EQ(rows[q].size(), t);
    double total = 0;
    for (std::size_t k = 0; k < t; ++k) total += rows[q][k].get<double>();
    EXPECT_NEAR(total, 1.0, 1e-6) << "query " << q;
    if (q + 1 < t) {
      EXPECT_EQ(rows[q][q + 1].get<double>(), 0.0);  // no key after the query
    }
  }
  for (std::size_t k = 0; k < t; ++k)
    EXPECT_NEAR(rows[t - 1][k].get<double>(), records[5]["weights"][1][k].get<double>(), 1e-6);
}

}  // namespace
}  // namespace stars
