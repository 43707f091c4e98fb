// Training the exit gate: Ouro's first-stage loss against its formula and its limits, the
// second stage's gradients reaching the gate alone, a gate-only phase leaving every other
// weight as it was, and the config rules around both.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/model/exit_gate.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/objective.hpp"
#include "stars/train/trainer.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

constexpr std::int64_t kVocab = 16;

LoopLM gated_model() {
  ModelConfig m = testing::ouro_tiny_model(1);
  m.exit_gate = true;
  torch::manual_seed(11);
  LoopLM model(m, kVocab);
  torch::NoGradGuard no_grad;
  model->exit_gate->weight.normal_(0.0, 1.0);
  return model;
}

struct Sample {
  torch::Tensor inputs, targets;
};

/// Two rows of 6 tokens; the first two positions of each have no target.
Sample sample() {
  torch::manual_seed(2);
  Sample s{torch::randint(0, kVocab, {2, 6}, torch::kLong),
           torch::randint(0, kVocab, {2, 6}, torch::kLong)};
  s.targets.narrow(1, 0, 2).fill_(kIgnoreIndex);
  return s;
}

std::vector<torch::Tensor> states_after_loops(LoopLM& model, const torch::Tensor& x, int t) {
  ForwardOptions o;
  o.n_loops = t;
  o.keep_states = true;
  auto states = model->forward(x, o).states;
  return {states.begin() + 1, states.end()};
}

TEST(GateTraining, ExpectedLossIsTheGateWeightedLossMinusTheEntropyBonus) {
  LoopLM model = gated_model();
  const Sample s = sample();
  const auto states = states_after_loops(model, s.inputs, 4);
  const double beta = 0.1;
  // Position by position, in double: Σ_t p_t·CE_t − β·H(p), averaged over the 8 targets.
  double want = 0;
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t i = 2; i < 6; ++i) {
      double survive = 1, expected = 0, entropy = 0;
      for (std::size_t t = 0; t < states.size(); ++t) {
        const auto logits = model->readout(states[t])[b][i].to(torch::kDouble);
        const double ce =
            (torch::logsumexp(logits, 0) - logits[s.targets[b][i].item<std::int64_t>()])
                .item<double>();
        const double lambda =
            t + 1 == states.size() ? 1.0 : exit_probability(model, states[t])[b][i].item<double>();
        const double p = lambda * survive;
        survive *= 1 - lambda;
        expected += p * ce;
        entropy -= p > 0 ? p * std::log(p) : 0;
      }
      want += (expected - beta * entropy) / 8;
    }
  EXPECT_NEAR(gate_expected_loss(model, states, s.targets, beta).item<double>(), want, 1e-5);
}

TEST(GateTraining, ASaturatedGateMakesTheExpectedLossTheFirstOrTheLastLoopsLoss) {
  LoopLM model = gated_model();
  const Sample s = sample();
  const auto states = states_after_loops(model, s.inputs, 5);
  const auto ce_at = [&](std::size_t t) {
    return answer_cross_entropy(model->readout(states[t]), s.targets).item<double>();
  };
  torch::NoGradGuard no_grad;
  model->exit_gate->weight.zero_();
  model->exit_gate->bias.fill_(40);  // λ = 1: all mass on loop 1
  EXPECT_NEAR(gate_expected_loss(model, states, s.targets, 0.1).item<double>(), ce_at(0), 1e-5);
  model->exit_gate->bias.fill_(-40);  // λ = 0: all mass on the last loop
  EXPECT_NEAR(gate_expected_loss(model, states, s.targets, 0.1).item<double>(), ce_at(4), 1e-5);
}

TEST(GateTraining, TheImprovementLossTrainsTheGateAloneTowardsItsTargets) {
  LoopLM model = gated_model();
  const Sample s = sample();
  const auto states = states_after_loops(model, s.inputs, 4);
  const auto loss = gate_improvement_loss(model, states, s.targets, 50, 0.005);
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    const bool gate = p.key().rfind("exit_gate.", 0) == 0;
    EXPECT_EQ(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0, gate)
        << p.key();
  }
  // Against Eq. 6 directly: w_s and λ_s at loops 2..4, over the 8 targets, divided by 4.
  double want = 0;
  for (std::size_t t = 1; t < states.size(); ++t) {
    const auto ce_prev = token_cross_entropy(model->readout(states[t - 1]), s.targets);
    const auto ce = token_cross_entropy(model->readout(states[t]), s.targets);
    const auto w = torch::sigmoid(50 * ((ce_prev - ce).clamp_min(0) - 0.005));
    const auto lambda = exit_probability(model, states[t]);
    const auto bce = -(w * torch::log(1 - lambda) + (1 - w) * torch::log(lambda));
    want += bce.narrow(1, 2, 4).mean().item<double>() / 4;
  }
  EXPECT_NEAR(loss.item<double>(), want, 1e-5);
}

Config gate_run(GateObjective objective) {
  Config c = testing::tiny_training_config(6);
  c.model.exit_gate = true;
  c.train.weight_decay = 0.1;  // would move every weight it reaches
  c.phases[0].exit_gate.objective = objective;
  if (objective == GateObjective::improvement) c.phases[0].jacobian_penalty.weight = 0;
  return c;
}

TEST(GateTraining, AGateOnlyPhaseChangesTheGateAndNothingElse) {
  torch::set_num_threads(1);
  Trainer t(gate_run(GateObjective::improvement), {}, torch::kCPU);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : t.model()->named_parameters()) before[p.key()] = p.value().clone();
  for (int s = 0; s < 6; ++s) EXPECT_TRUE(std::isfinite(t.train_step(s).loss));
  for (const auto& p : t.model()->named_parameters()) {
    const bool same = torch::equal(before[p.key()], p.value());
    EXPECT_EQ(same, p.key().rfind("exit_gate.", 0) != 0) << p.key();
  }
}

TEST(GateTraining, TheFirstStageTrainsEveryWeightAndLowersItsLoss) {
  torch::set_num_threads(1);
  Config c = gate_run(GateObjective::expected_loss);
  c.phases[0].steps = 40;
  Trainer t(c, {}, torch::kCPU);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : t.model()->named_parameters()) before[p.key()] = p.value().clone();
  double first = 0, last = 0;
  for (int s = 0; s < 40; ++s) {
    const auto st = t.train_step(s);
    if (s < 5) first += st.ce / 5;
    if (s >= 35) last += st.ce / 5;
  }
  EXPECT_LT(last, first - 0.3) << "first " << first << " last " << last;
  for (const auto& p : t.model()->named_parameters())  // the gate included
    EXPECT_FALSE(torch::equal(before[p.key()], p.value())) << p.key();
}

TEST(GateTraining, TheConfigRefusesAGateObjectiveWithoutAGateAndThePenaltyInTheGateStage) {
  Config no_gate = gate_run(GateObjective::expected_loss);
  no_gate.model.exit_gate = false;
  try {
    validate(no_gate);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("phases.0.exit_gate.objective = expected_loss"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("model.exit_gate = true"), std::string::npos);
  }
  Config penalised = gate_run(GateObjective::improvement);
  penalised.phases[0].jacobian_penalty.weight = 0.1;
  try {
    validate(penalised);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("phases.0.jacobian_penalty.weight"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace stars
