// Checkpoint averaging: the mean of a run's newest checkpoints, one per step, and the
// refusals (too few steps, another architecture).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <torch/torch.h>

#include "stars/config/errors.hpp"
#include "stars/data/text.hpp"
#include "stars/train/checkpoint_average.hpp"
#include "stars/train/run_dir.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

namespace fs = std::filesystem;

Config tiny_config() {
  Config cfg;
  cfg.model = testing::tiny_model();
  return cfg;
}

/// A model of `cfg` whose every weight is `value`, saved at `path` as step `step`.
void save_filled(const Config& cfg, const std::string& path, std::int64_t step, double value) {
  LoopLM model(cfg.model, tokenizer_for(cfg.data).vocab_size());
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.fill_(value);
  save_checkpoint(path, model, nullptr, step, cfg);
}

fs::path fresh_run(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("stars_average_test_" + name);
  fs::remove_all(dir);
  create_run_dir(dir.string());
  return dir;
}

TEST(CheckpointAverage, NewestStepsFirstTheFinalModelsStepOnce) {
  const auto cfg = tiny_config();
  const auto run = fresh_run("newest");
  for (int step : {250, 500, 750}) save_filled(cfg, step_checkpoint_path(run, step), step, step);
  save_filled(cfg, (run / "model.pt").string(), 750, 750);  // the final model: step 750 again
  const auto got = newest_checkpoints(run.string(), 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (run / "model.pt").string());
  EXPECT_EQ(got[1], step_checkpoint_path(run, 500));
  EXPECT_EQ(got[2], step_checkpoint_path(run, 250));
  // Averaging the newest steps picks the same files, reading model.pt once.
  EXPECT_EQ(average_newest_checkpoints(run.string(), 3).paths, got);
  try {
    newest_checkpoints(run.string(), 4);
    FAIL() << "four steps were found in a run that saved three";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("3 distinct saved steps"), std::string::npos) << e.what();
  }
}

TEST(CheckpointAverage, EveryWeightIsTheMeanAndTheStepTheFirsts) {
  const auto cfg = tiny_config();
  const auto run = fresh_run("mean");
  save_filled(cfg, step_checkpoint_path(run, 100), 100, 1.0);
  save_filled(cfg, step_checkpoint_path(run, 200), 200, 2.0);
  save_filled(cfg, step_checkpoint_path(run, 300), 300, 6.0);
  const auto paths = newest_checkpoints(run.string(), 3);
  const LoadedModel mean = average_checkpoints(paths);
  EXPECT_EQ(mean.step, 300);
  for (const auto& p : mean.model->named_parameters())
    EXPECT_TRUE(torch::allclose(p.value(), torch::full_like(p.value(), 3.0))) << p.key();
  const LoadedModel newest = average_newest_checkpoints(run.string(), 3).mean;
  for (const auto& p : newest.model->named_parameters())
    EXPECT_TRUE(torch::allclose(p.value(), torch::full_like(p.value(), 3.0))) << p.key();
  // Written and read back, it is an ordinary checkpoint.
  const auto out = (run / "mean.pt").string();
  LoopLM written = mean.model;
  save_checkpoint(out, written, nullptr, mean.step, mean.config);
  const auto back = load_model(out, torch::kCPU);
  for (const auto& p : back.model->named_parameters())
    EXPECT_TRUE(torch::allclose(p.value(), torch::full_like(p.value(), 3.0))) << p.key();
}

TEST(CheckpointAverage, AnotherArchitectureIsRefusedNamingTheFile) {
  const auto run = fresh_run("mismatch");
  auto wide = tiny_config();
  wide.model.d_model = 32;
  wide.model.d_ff = 64;
  save_filled(tiny_config(), step_checkpoint_path(run, 1), 1, 1.0);
  const auto other = (run / "wide.pt").string();
  save_filled(wide, other, 2, 1.0);
  try {
    average_checkpoints({step_checkpoint_path(run, 1), other});
    FAIL() << "a wider model was averaged into a narrower one";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(other), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model section"), std::string::npos) << e.what();
  }
  EXPECT_THROW(average_checkpoints({}), ConfigError);
}

}  // namespace
}  // namespace stars
