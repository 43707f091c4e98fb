#include "stars/dist/data_parallel.hpp"

#include <torch/torch.h>

namespace stars::dist {

void all_reduce_gradients(Group& group, const std::vector<torch::Tensor>& params,
                          std::vector<double>& extras) {
  std::vector<torch::Tensor> parts;
  parts.reserve(params.size() + 1);
  for (const auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    parts.push_back(p.grad().flatten());
  }
  const auto options = params.empty() ? torch::TensorOptions() : params.front().options();
  parts.push_back(torch::tensor(extras, torch::kDouble).to(options.dtype()).to(options.device()));
  torch::Tensor flat = torch::cat(parts);
  group.all_reduce_sum(flat, "all-reduce of gradients");
  std::int64_t offset = 0;
  for (const auto& p : params) {
    const std::int64_t n = p.numel();
    p.mutable_grad().copy_(flat.narrow(0, offset, n).view_as(p));
    offset += n;
  }
  const torch::Tensor tail = flat.narrow(0, offset, static_cast<std::int64_t>(extras.size()))
                                 .to(torch::kCPU, torch::kDouble);
  for (std::size_t i = 0; i < extras.size(); ++i)
    extras[i] = tail[static_cast<std::int64_t>(i)].item<double>();
}

void broadcast_from_rank0(Group& group, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.detach().flatten().to(torch::kFloat));
  if (parts.empty()) return;
  torch::Tensor flat = torch::cat(parts);
  group.broadcast(flat, 0, "broadcast of rank 0's weights");
  std::int64_t offset = 0;
  for (const auto& t : tensors) {
    t.detach().copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

std::pair<int, int> shard_range(int n, int rank, int world) {
  const auto begin = static_cast<int>(static_cast<long long>(n) * rank / world);
  const auto end = static_cast<int>(static_cast<long long>(n) * (rank + 1) / world);
  return {begin, end};
}

}  // namespace stars::dist
