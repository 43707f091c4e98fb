#include <gtest/gtest.h>

#include <filesystem>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/trainer.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

Config tiny_config(int steps) {
  Config c;
  c.model.d_model = 32;
  c.model.n_heads = 2;
  c.model.d_ff = 64;
  c.data.digits = 2;
  c.train.batch = 32;
  c.train.eval_every = 0;
  c.train.eval_n = 16;
  c.train.log_every = 1000;
  c.eval.monitor_depths = {2};
  c.phases = {PhaseConfig{}};  // one STARS phase
  c.phases[0].steps = steps;
  c.phases[0].lr = 3e-3;
  c.phases[0].warmup = 5;
  c.phases[0].loops.min = 1;
  c.phases[0].loops.max = 6;
  c.phases[0].loops.mu = 1.0;
  c.phases[0].reg.start_step = 3;
  return c;
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

TEST(Trainer, RegulariserSwitchesOnAtStartStep) {
  Trainer t(tiny_config(6), {}, torch::kCPU);
  EXPECT_FALSE(t.train_step(2).reg_active);
  const auto st = t.train_step(3);
  EXPECT_TRUE(st.reg_active);
  EXPECT_GT(st.reg, 0.0);
  EXPECT_NEAR(st.loss, 0.9 * st.ce + 0.1 * st.reg, 1e-4);
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

TEST(Trainer, RefusesToOverwriteARun) {
  const auto dir = fresh_dir("stars_overwrite_test");
  TrainerOptions o;
  o.out_dir = dir;
  Trainer first(tiny_config(2), o, torch::kCPU);
  EXPECT_THROW(Trainer(tiny_config(2), o, torch::kCPU), ConfigError);
}

}  // namespace
}  // namespace stars
