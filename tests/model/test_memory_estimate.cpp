#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "stars/config/errors.hpp"
#include "stars/model/memory_estimate.hpp"
#include "stars/model/token_exit.hpp"

namespace stars {
namespace {

TEST(MemoryEstimate, GrowsWithTheLoopsThatKeepAGraph) {
  const ModelConfig m;  // the default width
  LoopsConfig loops;
  loops.sampler = SamplerKind::fixed;
  auto step = [&](int n, int backprop_depth, bool penalty) {
    loops.n = n;
    loops.backprop_depth = backprop_depth;
    return training_step_bytes(m, loops, penalty, 128, 16, 16);
  };
  // Each loop adds the same activations: the peak resident memory of a step grew by 23.7 MiB
  // per loop between 32 and 64 loops at this size (docs/reliability.md).
  const double per_loop = (step(64, 0, false) - step(32, 0, false)) / 32;
  EXPECT_NEAR(per_loop, 23.7 * (1 << 20), 0.06 * 23.7 * (1 << 20));
  EXPECT_DOUBLE_EQ(step(1000, 8, false), step(8, 0, false));  // truncated backprop caps it
  EXPECT_GT(step(32, 0, true), step(32, 0, false));           // the penalty's extra graph
  loops.sampler = SamplerKind::lognormal;                     // random loops: their max counts
  loops.max = 100;
  EXPECT_EQ(max_loops(loops), 100);
}

TEST(MemoryEstimate, CountsWhatOurosLayerOptionsKeep) {
  // Ouro's layer at the default width (rotary positions, grouped key/value heads, SwiGLU,
  // RMSNorm in the four-norm sandwich, the final norm inside the loop): the peak resident
  // memory of a step grew by 60.5 MiB per loop between 32 and 64 loops, batch 128 of 4-digit
  // additions, float32 (docs/reliability.md). The estimate may be above it, never below.
  ModelConfig m;
  m.d_ff = 512;
  m.n_kv_heads = 2;
  m.positions = Positions::rope;
  m.mlp = MlpKind::swiglu;
  m.norm_type = NormType::rmsnorm;
  m.norm_placement = NormPlacement::pre_sandwich;
  m.norm_in_loop = true;
  m.bias = false;
  m.tied_head = false;
  LoopsConfig loops;
  loops.sampler = SamplerKind::fixed;
  auto step = [&](int n) {
    loops.n = n;
    return training_step_bytes(m, loops, false, 128, 16, 16);
  };
  const double per_loop = (step(64) - step(32)) / 32, measured = 60.5 * (1 << 20);
  EXPECT_GE(per_loop, measured);
  EXPECT_LE(per_loop, 1.25 * measured);
}

TEST(MemoryEstimate, EachRankHoldsItsShareOfTheGlobalBatch) {
  // train.batch is the global batch: over 2 ranks a step needs each rank's 64 rows, so a
  // limit between the 64-row and the 128-row estimates refuses one process, not two.
  Config cfg;
  cfg.train.batch = 128;
  cfg.phases.resize(1);
  const auto& loops = cfg.phases[0].loops;
  const bool penalty = cfg.phases[0].jacobian_penalty.weight > 0;
  const double half = training_step_bytes(cfg.model, loops, penalty, 64, 16, 16);
  const double whole = training_step_bytes(cfg.model, loops, penalty, 128, 16, 16);
  ::setenv("STARS_MEMORY_LIMIT", std::to_string((half + whole) / 2).c_str(), 1);
  EXPECT_NO_THROW(check_training_memory(cfg, 16, 16, /*ranks=*/2));
  std::string message;
  try {
    check_training_memory(cfg, 16, 16);
  } catch (const ConfigError& e) {
    message = e.what();
  }
  cfg.train.batch = 256;  // 128 rows on each of 2 ranks: refused, saying so
  std::string per_rank;
  try {
    check_training_memory(cfg, 16, 16, 2);
  } catch (const ConfigError& e) {
    per_rank = e.what();
  }
  ::unsetenv("STARS_MEMORY_LIMIT");
  EXPECT_NE(message.find("(train.batch 128 x 16 tokens"), std::string::npos) << message;
  EXPECT_NE(per_rank.find("(train.batch 256 over 2 ranks: 128 rows x 16 tokens"), std::string::npos)
      << per_rank;
}

TEST(MemoryEstimate, TheGatesExpectedLossCountsTheLogitsOfEveryLoop) {
  // A large vocabulary (Ouro's 49152) makes the per-loop logits the gate objective keeps a
  // large part of a step: a limit between the two estimates passes the plain phase and
  // refuses the gated one.
  Config cfg;
  cfg.model.exit_gate = true;
  cfg.phases = {PhaseConfig{}};
  cfg.phases[0].loops.sampler = SamplerKind::fixed;
  cfg.phases[0].loops.n = 8;
  const auto& p = cfg.phases[0];
  const double plain = training_step_bytes(cfg.model, p.loops, true, cfg.train.batch, 16, 49152);
  const double gated =
      training_step_bytes(cfg.model, p.loops, true, cfg.train.batch, 16, 49152, /*readouts=*/8);
  EXPECT_DOUBLE_EQ(gated - plain, 7 * 3 * 4.0 * cfg.train.batch * 16 * 49152);
  ::setenv("STARS_MEMORY_LIMIT", std::to_string((plain + gated) / 2).c_str(), 1);
  EXPECT_NO_THROW(check_training_memory(cfg, 16, 49152));
  cfg.phases[0].exit_gate.objective = GateObjective::expected_loss;
  std::string message;
  try {
    check_training_memory(cfg, 16, 49152);
  } catch (const ConfigError& e) {
    message = e.what();
  }
  ::unsetenv("STARS_MEMORY_LIMIT");
  EXPECT_NE(message.find("phases.0.exit_gate.objective expected_loss keeping the logits of all 8 "
                         "loops (vocabulary 49152)"),
            std::string::npos)
      << message;
}

TEST(MemoryEstimate, DecodingCountsTheLogitsAnExitRuleKeeps) {
  const ModelConfig model = Config{}.model;
  const double plain = decoding_bytes(model, 64, 128, 16, true, false, 49152);
  const TokenExit kl{ExitCriterion::kl, 1e-3}, gate{ExitCriterion::gate, 0.5};
  EXPECT_EQ(gate.logits_kept(), 1);
  EXPECT_DOUBLE_EQ(decoding_bytes(model, 64, 128, 16, true, false, 49152, kl.logits_kept()) - plain,
                   4.0 * 64 * 128 * 49152);  // the previous loop's distribution
  ::setenv("STARS_MEMORY_LIMIT", std::to_string(plain + 1).c_str(), 1);
  EXPECT_NO_THROW(check_decoding_memory(model, 64, 128, 16, true, false, 49152));
  EXPECT_THROW(check_decoding_memory(model, 64, 128, 16, true, false, 49152, kl.logits_kept()),
               ConfigError);
  ::unsetenv("STARS_MEMORY_LIMIT");
}

TEST(MemoryEstimate, RefusesAConfigThatCannotFitNamingTheKeys) {
  Config cfg;
  cfg.phases[0].loops.n = 100000;
  ::setenv("STARS_MEMORY_LIMIT", "20000000000", 1);
  std::string message;
  try {
    check_training_memory(cfg, 16, 16);
  } catch (const ConfigError& e) {
    message = e.what();
  }
  ::unsetenv("STARS_MEMORY_LIMIT");
  EXPECT_NE(message.find("phase 0 (fixed) needs about"), std::string::npos) << message;
  EXPECT_NE(message.find("18.6 GiB"), std::string::npos) << message;  // the limit, 20e9 bytes
  EXPECT_NE(message.find("phases.0.loops.n"), std::string::npos) << message;
  EXPECT_NE(message.find("train.batch"), std::string::npos) << message;
  EXPECT_NE(message.find("phases.0.loops.backprop_depth"), std::string::npos) << message;
  ::setenv("STARS_MEMORY_LIMIT", "20000000000", 1);
  EXPECT_NO_THROW(check_training_memory(Config{}, 16, 16));  // the default fits in 20 GB
  ::unsetenv("STARS_MEMORY_LIMIT");
}

}  // namespace
}  // namespace stars
