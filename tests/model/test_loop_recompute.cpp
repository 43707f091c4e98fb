// Recomputed loops (train.recompute_loops, gradient checkpointing): the same gradients as
// keeping every loop's graph, a graph that grows by one node per loop, dropout replayed.
#include <gtest/gtest.h>

#include <functional>
#include <unordered_set>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/data/batch.hpp"
#include "stars/model/looplm.hpp"
#include "stars/model/memory_estimate.hpp"
#include "stars/train/objective.hpp"

#include "test_support.hpp"

namespace stars {
namespace {

torch::Tensor tokens(std::int64_t B, std::int64_t T) {
  torch::manual_seed(11);
  return torch::randint(0, 16, {B, T}, torch::kLong);
}

/// A loss that reads every position of the logits, so every weight has a gradient.
torch::Tensor loss_of(LoopLM& model, const ForwardOptions& o) {
  const LoopOutput out = model->forward(tokens(3, 7), o);
  return (out.logits * out.logits).mean() + out.logits.select(-1, 0).sum();
}

/// Every parameter's gradient after one backward pass of loss_of.
std::vector<torch::Tensor> gradients(LoopLM& model, const ForwardOptions& o) {
  model->zero_grad();
  loss_of(model, o).backward();
  std::vector<torch::Tensor> g;
  for (const auto& p : model->parameters())
    g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

void expect_same_gradients(const std::vector<torch::Tensor>& kept,
                           const std::vector<torch::Tensor>& recomputed, const char* what) {
  ASSERT_EQ(kept.size(), recomputed.size());
  double total = 0;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_TRUE(torch::allclose(kept[i], recomputed[i], 1e-5, 1e-6))
        << what << ": parameter " << i << " differs by "
        << (kept[i] - recomputed[i]).abs().max().item<double>();
    total += recomputed[i].abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0) << what;
}

/// Gradients with and without recomputation from the same weights.
void check_model(const ModelConfig& cfg, int loops, int backprop_depth, const char* what) {
  torch::manual_seed(5);
  LoopLM model(cfg, 16);
  ForwardOptions o;
  o.n_loops = loops;
  o.backprop_depth = backprop_depth;
  const auto kept = gradients(model, o);
  o.recompute = true;
  expect_same_gradients(kept, gradients(model, o), what);
}

TEST(LoopRecompute, GivesTheGradientsOfKeepingEveryLoop) {
  check_model(testing::tiny_model(), 5, 0, "add injection");
  ModelConfig concat = testing::tiny_model();
  concat.inject = Injection::concat;  // inject_proj's weights are reached through the loop
  check_model(concat, 4, 0, "concat injection");
  // Two core layers per loop, the final norm inside the loop: all of Ouro's options.
  check_model(testing::ouro_tiny_model(), 4, 0, "Ouro's layout");
  check_model(testing::tiny_model(), 6, 2, "with backprop_depth 2");
}

TEST(LoopRecompute, TheGatesExpectedLossReadsEveryRecomputedState) {
  ModelConfig cfg = testing::ouro_tiny_model();
  cfg.exit_gate = true;
  torch::manual_seed(5);
  LoopLM model(cfg, 16);
  Batch batch;
  batch.inputs = tokens(3, 7);
  batch.targets = tokens(3, 7).roll(1, 1);
  ExitGateTrainingConfig gate;
  gate.objective = GateObjective::expected_loss;
  ObjectiveOptions opts;
  opts.forward.n_loops = 4;
  opts.gate = &gate;
  auto grads = [&] {
    model->zero_grad();
    stars_objective(model, batch, opts).loss.backward();
    std::vector<torch::Tensor> g;
    for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
    return g;
  };
  const auto kept = grads();
  opts.forward.recompute = true;
  expect_same_gradients(kept, grads(), "expected-loss objective");
}

/// Distinct autograd nodes reachable from `t`'s grad_fn.
std::size_t graph_nodes(const torch::Tensor& t) {
  std::unordered_set<const torch::autograd::Node*> seen;
  std::function<void(const std::shared_ptr<torch::autograd::Node>&)> visit =
      [&](const std::shared_ptr<torch::autograd::Node>& n) {
        if (!n || !seen.insert(n.get()).second) return;
        for (const auto& e : n->next_edges()) visit(e.function);
      };
  visit(t.grad_fn());
  return seen.size();
}

TEST(LoopRecompute, EachRecomputedLoopKeepsOneNodeInTheGraph) {
  torch::manual_seed(5);
  LoopLM model(testing::tiny_model(), 16);
  auto nodes = [&](int loops, bool recompute) {
    ForwardOptions o;
    o.n_loops = loops;
    o.recompute = recompute;
    return graph_nodes(loss_of(model, o));
  };
  // Kept loops add every layer operation to the graph; recomputed ones one node each.
  EXPECT_EQ(nodes(9, true) - nodes(1, true), 8u);
  EXPECT_GT(nodes(9, false) - nodes(1, false), 8u * 10);
}

TEST(LoopRecompute, DropoutDrawsTheSameMasksWhenRecomputed) {
  ModelConfig cfg = testing::tiny_model();
  cfg.dropout = 0.3;
  torch::manual_seed(5);
  LoopLM model(cfg, 16);
  model->train();
  ForwardOptions o;
  o.n_loops = 4;
  auto run = [&](bool recompute) {
    o.recompute = recompute;
    torch::manual_seed(99);
    auto g = gradients(model, o);
    g.push_back(torch::rand({4}));  // the generator continues as if nothing were recomputed
    return g;
  };
  expect_same_gradients(run(false), run(true), "dropout 0.3");
}

TEST(LoopRecompute, DecodingAndNoGradForwardsAreUnchanged) {
  torch::manual_seed(5);
  LoopLM model(testing::tiny_model(), 16);
  ForwardOptions o;
  o.n_loops = 3;
  const auto plain = model->forward(tokens(2, 5), o).logits;
  o.recompute = true;
  torch::NoGradGuard no_grad;
  const auto out = model->forward(tokens(2, 5), o);
  EXPECT_TRUE(torch::equal(plain.detach(), out.logits));
  EXPECT_FALSE(out.logits.requires_grad());
}

TEST(MemoryEstimate, RecomputedLoopsKeepOneStateEach) {
  const ModelConfig m = Config{}.model;
  LoopsConfig loops;
  loops.sampler = SamplerKind::fixed;
  auto step = [&](int n, bool recompute) {
    loops.n = n;
    return training_step_bytes(m, loops, true, 128, 16, 16, 1, recompute);
  };
  // One (B, T, D) float32 tensor per loop, with the allocator's measured slack: 2.25 of them.
  const double state = 2.25 * 4.0 * 128 * 16 * m.d_model;
  EXPECT_NEAR(step(64, true) - step(32, true), 32 * state, 1e-6 * state);
  EXPECT_GT(step(32, false) - step(16, false), 16 * 5 * state);  // a kept loop: 5x more
  EXPECT_LT(step(64, true), step(16, false));  // 64 recomputed loops fit where 16 kept ones do
}

}  // namespace
}  // namespace stars
