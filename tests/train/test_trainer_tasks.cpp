// The trainer's phases, goals and tasks: a goal that ends a phase, difficulty ranges and loops
// tied to difficulty, byte-level text runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/task.hpp"
#include "stars/kernels/cpu_gemm.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/loop_sampler.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/schedule.hpp"
#include "stars/train/trainer.hpp"

#include "test_support.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

Config tiny_config(int steps) {
  return testing::tiny_training_config(steps);
}

using testing::fresh_temp_dir;

/// Lines of RUN/metrics.jsonl that hold `key`.
std::vector<nlohmann::json> metrics_with(const std::string& dir, const std::string& key) {
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out.push_back(j);
  }
  return out;
}

TEST(Trainer, PhaseWithAGoalEndsOnceItIsReachedAndLaterPhasesKeepTheirSteps) {
  torch::set_num_threads(1);
  Config c = tiny_config(20);
  // Phase 0 learns 2-digit addition at depth 2 (about 1000 steps); its 6000 steps are only
  // an upper bound once it has a goal.
  PhaseConfig learn = c.phases[0];
  learn.name = "fixed";
  learn.steps = 6000;
  learn.lr = 3e-3;
  learn.loops.sampler = SamplerKind::fixed;
  learn.loops.n = 2;
  learn.jacobian_penalty.weight = 0;
  learn.until = {0.5, 2, 100, 64};
  c.phases.insert(c.phases.begin(), learn);
  c.train.log_every = 50;
  c.train.checkpoint_every = 0;  // so that a checkpoint inside phase 0 can only be the skip's
  c.train.keep_checkpoints = 10;
  const auto dir = fresh_temp_dir("stars_phase_goal_test");
  TrainerOptions o;
  o.out_dir = dir;
  o.final_sweep = false;
  Trainer t(c, o, torch::kCPU);
  t.run();
  EXPECT_EQ(t.step(), 6020);
  const auto checks = metrics_with(dir, "goal_check");
  ASSERT_FALSE(checks.empty());
  const auto& last = checks.back();
  const auto reached_at = last["step"].get<std::int64_t>();
  EXPECT_LT(reached_at, 6000) << "the phase must end before its step limit";
  EXPECT_EQ(reached_at % 100, 0);
  EXPECT_GE(last["goal_check"]["accuracy"].get<double>(), 0.5);
  for (std::size_t i = 0; i + 1 < checks.size(); ++i)  // earlier checks missed the goal
    EXPECT_LT(checks[i]["goal_check"]["accuracy"].get<double>(), 0.5);
  // The skip is checkpointed at the next phase's first step, and phase 1 logs from there on.
  EXPECT_TRUE(fs::exists(step_checkpoint_path(dir, 6000)));
  const auto logged = metrics_with(dir, "loss");
  ASSERT_FALSE(logged.empty());
  for (const auto& line : logged) {
    const auto step = line["step"].get<std::int64_t>();
    EXPECT_TRUE(step <= reached_at || step > 6000) << step;
  }
}

TEST(Trainer, NotLearnedWarningOnlyNearChance) {
  EXPECT_EQ(not_learned_warning({{4, 0.999}, {64, 0.02}}), "");
  EXPECT_EQ(not_learned_warning({}), "");
  const auto msg = not_learned_warning({{1, 0.0}, {4, 0.094}, {64, 0.09}});
  EXPECT_NE(msg.find("did not learn"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0.094 (depth 4)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("phases.0.until"), std::string::npos) << msg;
}

/// Operations in a chain prompt ("   3+4*7="): its difficulty.
int chain_steps(const std::string& prompt) {
  return static_cast<int>(
      std::count_if(prompt.begin(), prompt.end(), [](char c) { return c == '+' || c == '*'; }));
}

TEST(Trainer, APhaseTrainsOnItsOwnDifficultyRangeInTheTasksFormat) {
  Config c = tiny_config(4);
  c.data.task = "chain";
  c.data.min_difficulty = 1;
  c.data.max_difficulty = 4;
  c.phases = {PhaseConfig{}, PhaseConfig{}};
  c.phases[0].min_difficulty = c.phases[0].max_difficulty = 1;  // a curriculum: 1 step first
  const auto task = make_task(c.data);
  const DifficultyRange first = phase_difficulty(c.phases[0], 0, *task);
  const DifficultyRange second = phase_difficulty(c.phases[1], 1, *task);
  EXPECT_EQ(first.lo, 1);
  EXPECT_EQ(first.hi, 1);
  EXPECT_EQ(second.lo, 1);
  EXPECT_EQ(second.hi, 4);
  const auto easy = task->sample_batch(64, 3, 0, first);
  const auto all = task->sample_batch(64, 3, 0, second);
  std::set<int> easy_steps, all_steps;
  for (const auto& ex : easy) easy_steps.insert(chain_steps(ex.prompt));
  for (const auto& ex : all) all_steps.insert(chain_steps(ex.prompt));
  EXPECT_EQ(easy_steps, (std::set<int>{1}));
  EXPECT_EQ(all_steps, (std::set<int>{1, 2, 3, 4}));
  // Same format as the full range's (the chain prompt is padded to the data range's width).
  EXPECT_EQ(easy.front().prompt.size(), all.front().prompt.size());
  // The data range itself draws the same stream as before phases had ranges.
  const auto plain = task->sample_batch(64, 3, 0);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(plain[i].prompt, all[i].prompt);

  c.phases[1].max_difficulty = 5;  // beyond the data range: refused when the run is built
  try {
    Trainer trainer(c, TrainerOptions{}, torch::kCPU);
    FAIL() << "a phase range outside the data range was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("phases.1.min_difficulty/phases.1.max_difficulty: [1, 5]"),
              std::string::npos)
        << e.what();
  }
}

TEST(Trainer, LoopsTiedToDifficultyTrainEachStepOnOneDifficultyWithItsLoops) {
  torch::set_num_threads(1);
  Config c = tiny_config(6);
  c.data.task = "chain";
  c.data.min_difficulty = 1;
  c.data.max_difficulty = 3;
  c.phases[0].loops.sampler = SamplerKind::fixed;
  c.phases[0].loops.n = 1;
  c.phases[0].loops.per_difficulty = 2;  // d steps, 2d loops
  c.phases[0].jacobian_penalty.weight = 0;
  Trainer trainer(c, TrainerOptions{}, torch::kCPU);
  const auto task = make_task(c.data);
  std::set<int> loops;
  for (int s = 0; s < 6; ++s) {
    const DifficultyRange d = step_difficulty(c.phases[0].loops, {1, 3}, 3, s);
    EXPECT_EQ(trainer.train_step(s).loops, 2 * d.hi) << "step " << s;
    loops.insert(2 * d.hi);
    for (const auto& ex : task->sample_batch(c.train.batch, 3, s, d))
      EXPECT_EQ(chain_steps(ex.prompt), d.hi);
  }
  EXPECT_GT(loops.size(), 1u);  // the steps really differ in difficulty and loops

  c.data.task = "text";  // windows of text have no difficulty
  c.data.train_file = "corpus.txt";
  c.data.min_difficulty = c.data.max_difficulty = 0;
  c.phases[0].until.accuracy = 0;
  try {
    validate(c);
    FAIL() << "loops tied to difficulty were accepted for text";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("phases.0.loops.per_difficulty"), std::string::npos)
        << e.what();
  }
}

TEST(Trainer, TextRunLearnsBytesAndRecordsItsSplit) {
  torch::set_num_threads(1);
  const std::string dir = fresh_temp_dir("stars_trainer_text");
  fs::create_directories(dir);
  std::string text;
  for (int i = 0; i < 300; ++i) text += "the quick brown fox " + std::to_string(i % 7) + "\n";
  const std::string corpus = dir + "-corpus.txt";
  std::ofstream(corpus) << text;
  Config c = tiny_config(40);
  c.data.task = "text";
  c.data.train_file = corpus;
  c.data.seq_len = 24;
  c.model.max_len = 32;
  c.phases[0].until = UntilConfig{};
  c.eval.depths = "2";
  c.eval.n = 16;
  TrainerOptions opts;
  opts.out_dir = dir + "/run";
  Trainer t(c, opts, torch::kCPU);
  EXPECT_EQ(t.eval_metric(), "bits_per_byte");
  EXPECT_EQ(t.model()->vocab_size(), 258);
  const double before = t.evaluate({2}, 16).at(2);
  const DepthAccuracy after = t.run();
  EXPECT_GT(before, 6.0);              // near uniform over 258 tokens
  EXPECT_LT(after.at(2), before - 2);  // repeated phrases are learned quickly
  std::ifstream metrics(opts.out_dir + "/metrics.jsonl");
  std::string line;
  bool split = false, final_bpb = false, kernels = false;
  while (std::getline(metrics, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("kernels")) {  // which GEMM and precision the run trained with
      kernels = true;
      EXPECT_EQ(j["kernels"]["cpu_gemm"], cpu_gemm_name(cpu_gemm()));
      EXPECT_EQ(j["kernels"]["precision"], "fp32");
    }
    if (j.contains("corpus")) {
      split = true;
      EXPECT_EQ(j["corpus"]["train_bytes"].get<std::size_t>() +
                    j["corpus"]["valid_bytes"].get<std::size_t>(),
                text.size());
    }
    final_bpb = final_bpb || j.contains("final_bits_per_byte");
  }
  EXPECT_TRUE(split);
  EXPECT_TRUE(kernels);
  EXPECT_TRUE(final_bpb);
  // The saved model loads with the byte vocabulary.
  EXPECT_EQ(load_model(opts.out_dir, torch::kCPU).model->vocab_size(), 258);
}

TEST(Trainer, TextRunsRefuseGoalsAndWindowsLongerThanThePositions) {
  Config c = tiny_config(4);
  c.data.task = "text";
  c.data.train_file = "any.txt";
  c.phases[0].until.accuracy = 0.9;
  EXPECT_THROW(validate(c), ConfigError);
  c.phases[0].until.accuracy = 0;
  c.data.seq_len = c.model.max_len + 1;
  EXPECT_THROW(validate(c), ConfigError);
  c.data.seq_len = 16;
  c.data.train_file = "";
  EXPECT_THROW(validate(c), ConfigError);
}

}  // namespace
}  // namespace stars
