#include "stars/eval/answer_loss.hpp"

#include <algorithm>
#include <map>

#include <torch/torch.h>

#include "stars/data/batch.hpp"

namespace stars {
namespace {

/// Summed cross-entropy over the positions with a target, and how many there are.
std::pair<double, double> summed_loss(LoopLM& model, const torch::Tensor& h,
                                      const torch::Tensor& targets) {
  const auto logits = model->readout(h);
  const auto sum = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions()
          .ignore_index(kIgnoreIndex)
          .reduction(torch::kSum));
  return {sum.item<double>(), (targets != kIgnoreIndex).sum().item<double>()};
}

}  // namespace

std::vector<double> answer_loss_at_depths(LoopLM& model, const std::vector<Example>& examples,
                                          const Tokenizer& tok, const std::vector<int>& depths,
                                          int batch, torch::Device device) {
  if (depths.empty() || examples.empty()) return std::vector<double>(depths.size(), 0.0);
  torch::NoGradGuard no_grad;
  model->eval();
  const int deepest = *std::max_element(depths.begin(), depths.end());
  std::map<int, std::pair<double, double>> totals;  // depth -> (loss sum, answer tokens)
  for (int d : depths) totals[d] = {0, 0};
  const auto step = static_cast<std::size_t>(std::max(batch, 1));
  for (std::size_t begin = 0; begin < examples.size(); begin += step) {
    const auto end = std::min(examples.size(), begin + step);
    const Batch b = make_batch({examples.begin() + static_cast<std::ptrdiff_t>(begin),
                                examples.begin() + static_cast<std::ptrdiff_t>(end)},
                               tok, device);
    const auto e = model->embed(b.inputs);
    torch::Tensor h = e;
    for (int loop = 0; loop <= deepest; ++loop) {
      if (loop > 0) h = model->core_step(h, e);
      const auto it = totals.find(loop);
      if (it == totals.end()) continue;
      const auto [sum, count] = summed_loss(model, h, b.targets);
      it->second.first += sum;
      it->second.second += count;
    }
  }
  std::vector<double> result;
  for (int d : depths) result.push_back(totals[d].first / std::max(totals[d].second, 1.0));
  return result;
}

}  // namespace stars
