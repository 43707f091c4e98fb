#include "stars/model/exit_gate.hpp"

#include <stdexcept>

#include <torch/torch.h>

namespace stars {

torch::Tensor exit_probability(LoopLM& model, const torch::Tensor& state) {
  return exit_probability(*model, state);
}

torch::Tensor exit_probability(LoopLMImpl& model, const torch::Tensor& state) {
  if (!model.exit_gate)
    throw std::invalid_argument("this model has no exit gate (model.exit_gate = false)");
  return torch::sigmoid(model.exit_gate(state).squeeze(-1));
}

torch::Tensor exit_distribution(const std::vector<torch::Tensor>& lambdas) {
  if (lambdas.empty()) throw std::invalid_argument("exit_distribution: no loops");
  std::vector<torch::Tensor> p;
  torch::Tensor survive = torch::ones_like(lambdas.front());  // Π_{s<t} (1 − λ_s)
  for (std::size_t t = 0; t + 1 < lambdas.size(); ++t) {
    p.push_back(lambdas[t] * survive);
    survive = survive * (1 - lambdas[t]);
  }
  p.push_back(survive);
  return torch::stack(p);
}

}  // namespace stars
