#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stars/train/sharded_backward.hpp"

namespace stars {
namespace {

/// A two-layer map and its mean squared error on rows [begin, end) of (x, y), scaled by the
/// shard's share of the rows so that the shards' losses sum to the whole batch's.
struct Problem {
  torch::nn::Sequential net{torch::nn::Linear(6, 8), torch::nn::Tanh(), torch::nn::Linear(8, 3)};
  torch::Tensor x = torch::randn({10, 6}, torch::kDouble),
                y = torch::randn({10, 3}, torch::kDouble);
  Problem() { net->to(torch::kDouble); }

  ShardLoss loss(int shard, int shards) {
    const auto rows = x.size(0), begin = rows * shard / shards, end = rows * (shard + 1) / shards;
    auto pred = net->forward(x.slice(0, begin, end));
    auto l = (pred - y.slice(0, begin, end)).pow(2).mean() * double(end - begin) / double(rows);
    return {l, l.item<double>(), 0.0};
  }

  std::vector<torch::Tensor> grads(int shards) {
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
    const auto sums = sharded_backward(
        shards, [&](int k) { return loss(k, shards); }, net->parameters());
    EXPECT_NEAR(sums.loss, loss(0, 1).ce, 1e-12);  // the shards' losses add up to the whole
    std::vector<torch::Tensor> g;
    for (const auto& p : net->parameters()) g.push_back(p.grad().clone());
    return g;
  }
};

TEST(ShardedBackward, ShardsSumToTheWholeBatchGradient) {
  torch::manual_seed(0);
  Problem p;
  const auto whole = p.grads(1);
  torch::set_num_threads(2);
  for (int shards : {2, 3, 10}) {
    const auto parts = p.grads(shards);
    for (std::size_t i = 0; i < whole.size(); ++i)
      EXPECT_TRUE(torch::allclose(parts[i], whole[i], 1e-12, 1e-12)) << shards << " shards";
  }
  torch::set_num_threads(1);
}

TEST(ShardedBackward, AddsToExistingGradients) {
  torch::manual_seed(1);
  Problem p;
  const auto once = p.grads(2);
  auto params = p.net->parameters();
  sharded_backward(
      2, [&](int k) { return p.loss(k, 2); }, params);  // on top of `once`
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::allclose(params[i].grad(), 2 * once[i], 1e-12, 1e-12));
}

TEST(ShardedBackward, AnErrorInAShardReachesTheCaller) {
  torch::manual_seed(2);
  Problem p;
  torch::set_num_threads(2);
  auto failing = [&](int k) -> ShardLoss {
    if (k == 1) throw std::runtime_error("shard 1 failed");
    return p.loss(k, 2);
  };
  EXPECT_THROW(sharded_backward(2, failing, p.net->parameters()), std::runtime_error);
  torch::set_num_threads(1);
}

}  // namespace
}  // namespace stars
