#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/task.hpp"
#include "stars/data/text.hpp"
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

std::string fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  return dir.string();
}

TEST(Trainer, TinyRunLowersTheLoss) {
  torch::set_num_threads(1);
  Trainer t(tiny_config(80), {}, torch::kCPU);
  double first = 0, last = 0;
  for (int s = 0; s < 80; ++s) {
    const auto st = t.train_step(s);
    if (s < 5) first += st.ce / 5;
    if (s >= 75) last += st.ce / 5;
  }
  EXPECT_LT(last, first - 0.5) << "first " << first << " last " << last;
}

/// Weights after `steps` steps of tiny_config with train.batch_shards = shards.
std::vector<torch::Tensor> weights_after(Config c, int shards, int steps, double* last_loss) {
  c.train.batch_shards = shards;
  Trainer t(c, {}, torch::kCPU);
  for (int s = 0; s < steps; ++s) *last_loss = t.train_step(s).loss;
  std::vector<torch::Tensor> w;
  for (const auto& p : t.model()->parameters()) w.push_back(p.detach().clone());
  return w;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  return m;
}

TEST(Trainer, ConcurrentShardsGiveTheUnshardedUpdateWithoutThePenalty) {
  Config c = tiny_config(8);
  c.phases[0].jacobian_penalty.weight = 0;
  torch::set_num_threads(2);  // two shards run on two threads
  double loss1 = 0, loss2 = 0;
  const auto one = weights_after(c, 1, 8, &loss1);
  const auto two = weights_after(c, 2, 8, &loss2);
  torch::set_num_threads(1);
  EXPECT_LT(max_difference(one, two), 1e-4);  // the same update up to float summation order
  EXPECT_NEAR(loss1, loss2, 1e-5);
  EXPECT_GT(max_difference(one, weights_after(c, 1, 0, &loss1)), 1e-3);  // training moved them
}

TEST(Trainer, ConcurrentShardsWithThePenaltyRepeatExactly) {
  Config c = tiny_config(6);
  c.phases[0].jacobian_penalty.start_step = 0;
  torch::set_num_threads(2);
  double loss_a = 0, loss_b = 0;
  const auto a = weights_after(c, 3, 6, &loss_a);  // 3 shards on 2 threads: uneven scheduling
  const auto b = weights_after(c, 3, 6, &loss_b);
  torch::set_num_threads(1);
  EXPECT_TRUE(std::isfinite(loss_a));
  EXPECT_EQ(loss_a, loss_b);
  EXPECT_EQ(max_difference(a, b), 0.0);
}

TEST(Trainer, ForeachAdamWTrainsTheSameWeightsAsTheLoop) {
  Config c = tiny_config(6);
  c.phases[0].jacobian_penalty.start_step = 0;
  torch::set_num_threads(1);
  double loss_loop = 0, loss_foreach = 0;
  c.train.adamw = "loop";
  const auto loop = weights_after(c, 1, 6, &loss_loop);
  c.train.adamw = "foreach";
  const auto foreach = weights_after(c, 1, 6, &loss_foreach);
  EXPECT_EQ(loss_loop, loss_foreach);
  EXPECT_EQ(max_difference(loop, foreach), 0.0);
  c.train.adamw = "fused";  // CUDA only: refused on the CPU before anything runs
  EXPECT_THROW(Trainer(c, {}, torch::kCPU), ConfigError);
}

TEST(Trainer, RecomputedLoopsTrainTheWeightsOfKeptOnes) {
  Config c = tiny_config(6);
  c.phases[0].jacobian_penalty.start_step = 0;
  torch::set_num_threads(2);  // two shards: each differentiates with autograd::grad
  double loss_kept = 0, loss_recomputed = 0;
  const auto kept = weights_after(c, 2, 6, &loss_kept);
  c.train.recompute_loops = true;
  const auto recomputed = weights_after(c, 2, 6, &loss_recomputed);
  torch::set_num_threads(1);
  EXPECT_NEAR(loss_kept, loss_recomputed, 1e-5);
  EXPECT_LT(max_difference(kept, recomputed), 1e-4);  // up to float summation order
  EXPECT_GT(max_difference(kept, weights_after(c, 2, 0, &loss_kept)), 1e-3);
}

TEST(Trainer, RegulariserSwitchesOnAtStartStep) {
  Trainer t(tiny_config(6), {}, torch::kCPU);
  EXPECT_FALSE(t.train_step(2).penalty_active);
  const auto st = t.train_step(3);
  EXPECT_TRUE(st.penalty_active);
  EXPECT_GT(st.penalty, 0.0);
  EXPECT_NEAR(st.loss, 0.9 * st.ce + 0.1 * st.penalty, 1e-4);
}

TEST(Trainer, ResumeRepeatsTheUninterruptedRun) {
  torch::set_num_threads(1);
  Config c = tiny_config(12);
  c.train.checkpoint_every = 6;
  c.train.keep_checkpoints = 5;
  std::vector<double> straight;
  {
    Trainer t(c, {}, torch::kCPU);
    for (int s = 0; s < 12; ++s) straight.push_back(t.train_step(s).loss);
  }
  const auto dir = fresh_dir("stars_resume_test");
  {
    TrainerOptions o;
    o.out_dir = dir;
    o.final_sweep = false;
    Trainer t(c, o, torch::kCPU);
    t.run();
  }
  fs::remove(step_checkpoint_path(dir, 12));  // as if the run died after step 6's checkpoint
  TrainerOptions o;
  o.out_dir = dir;
  o.resume = true;
  Trainer resumed(c, o, torch::kCPU);
  ASSERT_EQ(resumed.step(), 6);
  for (int s = 6; s < 12; ++s)
    EXPECT_EQ(resumed.train_step(s).loss, straight[static_cast<size_t>(s)]) << s;
}

/// The last train_seconds that a run's metrics.jsonl records.
double final_train_seconds(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  double seconds = -1;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("train_seconds")) seconds = j["train_seconds"].get<double>();
  }
  return seconds;
}

TEST(Trainer, AResumedRunCountsTheTrainingTimeItsCheckpointRecorded) {
  torch::set_num_threads(1);
  Config c = tiny_config(12);
  c.train.checkpoint_every = 6;
  c.train.keep_checkpoints = 5;
  c.eval.depths = "4";
  c.eval.n = 16;
  const auto dir = fresh_dir("stars_resume_seconds_test");
  TrainerOptions o;
  o.out_dir = dir;
  Trainer(c, o, torch::kCPU).run();
  // Step 6's checkpoint rewritten as if the run had trained 1000 s to reach it, then died.
  const std::string step6 = step_checkpoint_path(dir, 6);
  LoopLM model(c.model, tokenizer_for(c.data).vocab_size());
  auto adamw = make_optimizer(model->parameters(), c.train, c.phases.front().lr);
  double recorded = -1;
  ASSERT_EQ(load_training_state(step6, model, adamw.get(), torch::kCPU, &recorded), 6);
  EXPECT_GT(recorded, 0.0);  // the first run recorded its own time
  save_checkpoint(step6, model, adamw.get(), 6, c, 1000.0);
  fs::remove(step_checkpoint_path(dir, 12));
  o.resume = true;
  Trainer(c, o, torch::kCPU).run();
  EXPECT_GE(final_train_seconds(dir), 1000.0);
  double in_model = -1;
  load_training_state((fs::path(dir) / "model.pt").string(), model, nullptr, torch::kCPU,
                      &in_model);
  EXPECT_GE(in_model, 1000.0);
}

/// Changes one byte in the middle of a file, as silent disk corruption would.
void flip_a_byte(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto middle = f.tellg() / 2;
  f.seekg(middle);
  char byte = 0;
  f.read(&byte, 1);
  f.seekp(middle);
  byte = static_cast<char>(byte ^ 0x01);
  f.write(&byte, 1);
}

TEST(Trainer, ResumeFallsBackToTheNewestIntactCheckpoint) {
  torch::set_num_threads(1);
  Config c = tiny_config(12);
  c.train.checkpoint_every = 4;
  c.train.keep_checkpoints = 5;
  const auto dir = fresh_dir("stars_corrupt_resume_test");
  TrainerOptions o;
  o.out_dir = dir;
  o.final_sweep = false;
  Trainer(c, o, torch::kCPU).run();
  flip_a_byte(step_checkpoint_path(dir, 12));
  EXPECT_THROW(load_model(step_checkpoint_path(dir, 12), torch::kCPU), DataError);
  const IntactCheckpoint intact = latest_intact_checkpoint(dir);
  EXPECT_EQ(intact.path, step_checkpoint_path(dir, 8));
  ASSERT_EQ(intact.corrupted.size(), 1u);
  EXPECT_NE(intact.corrupted[0].find("step-00000012.pt' is corrupted"), std::string::npos)
      << intact.corrupted[0];
  o.resume = true;
  Trainer resumed(c, o, torch::kCPU);
  EXPECT_EQ(resumed.step(), 8);
  flip_a_byte(step_checkpoint_path(dir, 8));
  flip_a_byte(step_checkpoint_path(dir, 4));
  flip_a_byte(step_checkpoint_path(dir, 0));
  EXPECT_THROW(latest_intact_checkpoint(dir), DataError);
}

/// Sets one weight to NaN (or back to `value`), as a fault would.
void poison_first_weight(Trainer& t, float value) {
  torch::NoGradGuard no_grad;
  t.model()->parameters()[0].view(-1)[0] = value;
}

std::vector<torch::Tensor> snapshot(Trainer& t) {
  std::vector<torch::Tensor> out;
  for (const auto& p : t.model()->parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST(Trainer, NonFiniteStepIsSkippedThenTrainingRecovers) {
  torch::set_num_threads(1);
  Trainer t(tiny_config(10), {}, torch::kCPU);
  t.train_step(0);
  const float saved = t.model()->parameters()[0].view(-1)[0].item<float>();
  poison_first_weight(t, std::nanf(""));
  const auto before = snapshot(t);
  const auto bad = t.train_step(1);
  EXPECT_FALSE(std::isfinite(bad.loss));
  const auto after = snapshot(t);
  for (std::size_t i = 0; i < before.size(); ++i)  // no update, not even weight decay
    EXPECT_TRUE(torch::equal(before[i].nan_to_num(0), after[i].nan_to_num(0))) << i;
  poison_first_weight(t, saved);
  const auto good = t.train_step(2);
  EXPECT_TRUE(std::isfinite(good.loss));
  EXPECT_FALSE(torch::equal(t.model()->parameters()[1], after[1]));  // updates resume
}

TEST(Trainer, DivergenceStopsKeepingTheLastGoodCheckpoint) {
  torch::set_num_threads(1);
  Config c = tiny_config(20);
  c.train.checkpoint_every = 1;
  c.train.max_bad_steps = 3;
  const auto dir = fresh_dir("stars_diverge_test");
  TrainerOptions o;
  o.out_dir = dir;
  o.final_sweep = false;
  Trainer t(c, o, torch::kCPU);
  poison_first_weight(t, std::nanf(""));
  try {
    t.run();
    FAIL() << "a run of non-finite steps must stop training";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("3 consecutive non-finite steps ending at step 3"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find(step_checkpoint_path(dir, 0)), std::string::npos) << msg;
    EXPECT_NE(msg.find("learning rate"), std::string::npos) << msg;
  }
  // Only the good starting checkpoint exists, and its weights are finite.
  EXPECT_EQ(latest_step_checkpoint(dir), step_checkpoint_path(dir, 0));
  LoopLM reloaded = load_model(dir, torch::kCPU).model;
  for (const auto& p : reloaded->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

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
  const auto dir = fresh_dir("stars_phase_goal_test");
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

TEST(Trainer, RefusesToOverwriteARun) {
  const auto dir = fresh_dir("stars_overwrite_test");
  TrainerOptions o;
  o.out_dir = dir;
  Trainer first(tiny_config(2), o, torch::kCPU);
  EXPECT_THROW(Trainer(tiny_config(2), o, torch::kCPU), ConfigError);
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

}  // namespace
}  // namespace stars

namespace stars {
namespace {

TEST(Trainer, TextRunLearnsBytesAndRecordsItsSplit) {
  torch::set_num_threads(1);
  const std::string dir = fresh_dir("stars_trainer_text");
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
