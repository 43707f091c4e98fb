#include "stars/train/sharded_backward.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace stars {
namespace {

ShardSums sums_of(const std::vector<ShardLoss>& parts) {
  ShardSums s;
  for (const auto& p : parts) {
    s.loss += p.loss.item<double>();
    s.ce += p.ce;
    s.penalty += p.penalty;
  }
  return s;
}

}  // namespace

ShardSums sharded_backward(int shards, const std::function<ShardLoss(int)>& loss_of,
                           const std::vector<torch::Tensor>& weights) {
  if (shards == 1) {
    auto part = loss_of(0);
    part.loss.backward({}, /*retain_graph=*/{}, /*create_graph=*/false, weights);
    return sums_of({part});
  }
  std::vector<ShardLoss> parts(static_cast<std::size_t>(shards));
  std::vector<std::vector<torch::Tensor>> grads(static_cast<std::size_t>(shards));
  // Inside the parallel region LibTorch runs every op on the calling thread.
  at::parallel_for(0, shards, /*grain_size=*/1, [&](std::int64_t begin, std::int64_t end) {
    for (auto k = begin; k < end; ++k) {
      const auto i = static_cast<std::size_t>(k);
      parts[i] = loss_of(static_cast<int>(k));
      grads[i] = torch::autograd::grad({parts[i].loss}, weights, {}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    }
  });
  torch::NoGradGuard no_grad;
  for (std::size_t w = 0; w < weights.size(); ++w) {
    torch::Tensor sum;
    for (const auto& g : grads)
      if (g[w].defined()) sum = sum.defined() ? sum + g[w] : g[w].clone();
    if (!sum.defined()) continue;
    auto& grad = weights[w].mutable_grad();
    if (grad.defined())
      grad.add_(sum);
    else
      grad = sum;
  }
  return sums_of(parts);
}

}  // namespace stars
