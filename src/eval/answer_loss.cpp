#include "stars/eval/answer_loss.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <torch/torch.h>

#include "stars/data/batch.hpp"

namespace stars {

double summed_nats(LoopLM& model, const torch::Tensor& h, const torch::Tensor& targets) {
  return summed_nats(model->readout(h), targets);
}

double summed_nats(const torch::Tensor& logits, const torch::Tensor& targets) {
  return torch::nn::functional::cross_entropy(
             logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), targets.reshape({-1}),
             torch::nn::functional::CrossEntropyFuncOptions()
                 .ignore_index(kIgnoreIndex)
                 .reduction(torch::kSum))
      .item<double>();
}

std::vector<double> nats_by_depth(LoopLM& model, const Batch& batch,
                                  const std::vector<int>& depths) {
  const std::set<int> wanted(depths.begin(), depths.end());
  std::map<int, double> at;
  const auto e = model->embed(batch.inputs);
  auto h = e;
  for (int i = 0;; ++i) {
    if (wanted.count(i)) at[i] = summed_nats(model, h, batch.targets);
    if (i == *wanted.rbegin()) break;
    h = model->core_step(h, e);
  }
  std::vector<double> nats;
  for (int d : depths) nats.push_back(at.at(d));
  return nats;
}

std::vector<double> answer_loss_at_depths(LoopLM& model, const std::vector<Example>& examples,
                                          const Tokenizer& tok, const std::vector<int>& depths,
                                          int batch, torch::Device device) {
  if (depths.empty() || examples.empty()) return std::vector<double>(depths.size(), 0.0);
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<double> nats(depths.size(), 0.0);
  double tokens = 0;
  const auto step = static_cast<std::size_t>(std::max(batch, 1));
  for (std::size_t begin = 0; begin < examples.size(); begin += step) {
    const auto end = std::min(examples.size(), begin + step);
    const Batch b = make_batch({examples.begin() + static_cast<std::ptrdiff_t>(begin),
                                examples.begin() + static_cast<std::ptrdiff_t>(end)},
                               tok, device);
    const auto part = nats_by_depth(model, b, depths);
    for (std::size_t i = 0; i < nats.size(); ++i) nats[i] += part[i];
    tokens += (b.targets != kIgnoreIndex).sum().item<double>();
  }
  for (double& n : nats) n /= std::max(tokens, 1.0);
  return nats;
}

}  // namespace stars
