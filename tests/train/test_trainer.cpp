#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/text.hpp"
#include "stars/train/checkpoint.hpp"
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
  const auto dir = fresh_temp_dir("stars_resume_test");
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
  const auto dir = fresh_temp_dir("stars_resume_seconds_test");
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
  const auto dir = fresh_temp_dir("stars_corrupt_resume_test");
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
  const auto dir = fresh_temp_dir("stars_diverge_test");
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

TEST(Trainer, RefusesToOverwriteARun) {
  const auto dir = fresh_temp_dir("stars_overwrite_test");
  TrainerOptions o;
  o.out_dir = dir;
  Trainer first(tiny_config(2), o, torch::kCPU);
  EXPECT_THROW(Trainer(tiny_config(2), o, torch::kCPU), ConfigError);
}

}  // namespace
}  // namespace stars
