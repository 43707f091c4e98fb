#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stars/data/batch.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/objective.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

using testing::linear_map;
using testing::tiny_double_model;

TEST(Objective, PenaltyGradientReachesOnlyTheCore) {
  for (auto product : {JacobianProduct::vjp, JacobianProduct::jvp}) {
    ModelConfig m;
    m.d_model = 8;
    m.n_heads = 2;
    m.d_ff = 16;
    m.max_len = 8;
    LoopLM model(m, 16);
    auto out = model->forward(torch::tensor({{1, 2, 3, 4}}, torch::kLong), 3);
    JacobianPenaltyConfig reg;
    reg.product = product;
    reg.iters = 2;
    auto r = jacobian_penalty(model->state_map(out.input), out.state, reg);
    ASSERT_TRUE(r.requires_grad()) << "penalty has no graph: create_graph was lost";
    r.backward();
    double core_grad = 0;
    for (const auto& p : model->core->parameters())
      if (p.grad().defined()) core_grad += p.grad().abs().sum().item<double>();
    EXPECT_GT(core_grad, 0.0) << to_string(product);
    for (auto* t : {&model->tok_emb->weight, &model->pos_emb->weight})
      EXPECT_TRUE(!t->grad().defined() || t->grad().abs().sum().item<double>() == 0.0);
    for (const auto& p : model->norm_f->parameters())
      EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0);
  }
}

TEST(Objective, PenaltyGradientMatchesFiniteDifference) {
  LoopLM model = tiny_double_model();
  auto tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
  auto out = model->forward(tokens, 2);
  const auto state = out.state.detach();
  const auto e = out.input.detach();
  auto& w = model->core[0]->as<TransformerLayer>()->fc->weight;
  for (auto product : {JacobianProduct::vjp, JacobianProduct::jvp}) {
    JacobianPenaltyConfig reg;  // one iteration: R = |P v|^2 is exactly differentiable (later
    reg.product = product;      // iterations treat the direction as a constant, by design)
    reg.iters = 1;
    auto penalty = [&] {
      torch::manual_seed(11);  // the same start vector each time
      return jacobian_penalty(model->state_map(e), state, reg);
    };
    w.mutable_grad() = torch::Tensor();
    penalty().backward();
    const double analytic = w.grad()[1][2].item<double>();
    const double eps = 1e-6;
    torch::NoGradGuard g;
    w[1][2] += eps;
    const double up = penalty().item<double>();
    w[1][2] -= 2 * eps;
    const double down = penalty().item<double>();
    w[1][2] += eps;
    EXPECT_NEAR(analytic, (up - down) / (2 * eps), 1e-5) << to_string(product);
  }
}

TEST(Objective, MixIsConvexCombination) {
  auto m = mix_loss(torch::tensor(2.0), torch::tensor(10.0), 0.1);
  EXPECT_NEAR(m.item<double>(), 0.9 * 2.0 + 0.1 * 10.0, 1e-6);
}

TEST(Objective, HingeIsZeroBelowTarget) {
  auto A = torch::eye(3, torch::kDouble) * 0.5;
  JacobianPenaltyConfig reg;
  reg.penalty = PenaltyKind::hinge;
  reg.target = 1.0;
  EXPECT_EQ(
      jacobian_penalty(linear_map(A), torch::randn({1, 1, 3}, torch::kDouble), reg).item<double>(),
      0.0);
  reg.target = 0.2;
  EXPECT_NEAR(
      jacobian_penalty(linear_map(A), torch::randn({1, 1, 3}, torch::kDouble), reg).item<double>(),
      0.09, 1e-9);
}

TEST(Objective, IsTheMixOfAnswerCrossEntropyAndThePenaltyAtTheFinalState) {
  LoopLM model = tiny_double_model();
  model->train();
  const auto inputs = torch::tensor({{1, 2, 3, 4}, {4, 3, 2, 1}}, torch::kLong);
  const std::int64_t no = kIgnoreIndex;  // prompt positions
  const auto targets =
      torch::tensor({{no, no, int64_t{5}, int64_t{6}}, {no, int64_t{7}, int64_t{8}, int64_t{9}}});
  const Batch batch{inputs, targets};
  JacobianPenaltyConfig penalty;
  penalty.weight = 0.25;
  ObjectiveOptions opts;
  opts.forward.n_loops = 3;
  opts.penalty = &penalty;
  opts.power_start = torch::randn({2, 4, 4}, torch::kDouble);
  const Objective o = stars_objective(model, batch, opts);
  // Each term, computed here from its definition.
  const LoopOutput out = model->forward(inputs, 3);
  const auto logp = torch::log_softmax(out.logits, -1);
  const auto mask = targets != kIgnoreIndex;
  const auto picked = logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  const double ce = -picked.masked_select(mask).mean().item<double>();
  const double r =
      jacobian_penalty(model->state_map(out.input), out.state, penalty, opts.power_start)
          .item<double>();
  EXPECT_NEAR(o.ce.item<double>(), ce, 1e-12);
  EXPECT_NEAR(o.penalty.item<double>(), r, 1e-12);
  EXPECT_NEAR(o.loss.item<double>(), 0.75 * ce + 0.25 * r, 1e-12);
  opts.penalty = nullptr;  // off: CE alone, no penalty term
  const Objective plain = stars_objective(model, batch, opts);
  EXPECT_FALSE(plain.penalty.defined());
  EXPECT_NEAR(plain.loss.item<double>(), ce, 1e-12);
}

TEST(Objective, PenaltyOnAFractionOfRowsSettledPastTheFinalState) {
  LoopLM model = tiny_double_model();
  const auto inputs = torch::tensor({{1, 2, 3}, {3, 2, 1}, {2, 2, 2}, {1, 1, 3}}, torch::kLong);
  const auto targets = torch::full({4, 3}, 5, torch::kLong);
  JacobianPenaltyConfig penalty;
  penalty.weight = 0.5;
  penalty.rows = 0.5;        // the first 2 of 4 rows
  penalty.settle_loops = 3;  // taken at h_5 of a 2-loop forward
  ObjectiveOptions opts;
  opts.forward.n_loops = 2;
  opts.penalty = &penalty;
  opts.power_start = torch::randn({4, 3, 4}, torch::kDouble);
  const Objective o = stars_objective(model, Batch{inputs, targets}, opts);
  // The same penalty from its definition: the first two rows run 5 loops, the state map at
  // their input, the start vector's first two rows.
  const LoopOutput deep = model->forward(inputs.narrow(0, 0, 2), 5);
  const double r = jacobian_penalty(model->state_map(deep.input), deep.state, penalty,
                                    opts.power_start.narrow(0, 0, 2))
                       .item<double>();
  EXPECT_NEAR(o.penalty.item<double>(), r, 1e-10);
  // Its gradient reaches the core through the last power-iteration product alone.
  o.penalty.backward();
  double core_grad = 0;
  for (const auto& p : model->core->parameters())
    if (p.grad().defined()) core_grad += p.grad().abs().sum().item<double>();
  EXPECT_GT(core_grad, 0.0);
  EXPECT_EQ(penalty_rows(penalty, 4), 2);
  penalty.rows = 0.01;  // never zero rows
  EXPECT_EQ(penalty_rows(penalty, 4), 1);
  penalty.rows = 1.0;
  EXPECT_EQ(penalty_rows(penalty, 4), 4);
}

TEST(Objective, PenaltyStartsAtItsStepAndNeedsLoops) {
  JacobianPenaltyConfig penalty;
  penalty.start_step = 5;
  EXPECT_FALSE(penalty_active(penalty, 4, 3));
  EXPECT_TRUE(penalty_active(penalty, 5, 3));
  EXPECT_FALSE(penalty_active(penalty, 5, 0));  // no loop, no Jacobian of the loop
  penalty.weight = 0;
  EXPECT_FALSE(penalty_active(penalty, 50, 3));
}

}  // namespace
}  // namespace stars
