#include "stars/train/objective.hpp"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "stars/dynamics/jacobian.hpp"

namespace stars {

torch::Tensor jacobian_penalty(const StateMap& f, const torch::Tensor& state,
                               const JacobianPenaltyConfig& cfg, const torch::Tensor& start) {
  PowerIterationOptions opts;
  opts.start = start;
  opts.product = cfg.product;
  opts.iters = cfg.iters;
  opts.normalize = cfg.normalize;
  auto norm = power_iteration(f, state, opts);  // |u|: scalar or (B)
  if (cfg.penalty == PenaltyKind::hinge) return torch::relu(norm - cfg.target).pow(2).mean();
  return norm.pow(2).mean();
}

torch::Tensor mix_loss(const torch::Tensor& ce, const torch::Tensor& penalty, double weight) {
  return (1.0 - weight) * ce + weight * penalty;
}

torch::Tensor answer_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.flatten(0, 1), targets.flatten(),
                          F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
}

std::int64_t penalty_rows(const JacobianPenaltyConfig& cfg, std::int64_t batch_rows) {
  const auto rows =
      static_cast<std::int64_t>(std::ceil(cfg.rows * static_cast<double>(batch_rows)));
  return std::clamp<std::int64_t>(rows, 1, batch_rows);
}

torch::Tensor settle(const StateMap& f, torch::Tensor state, int loops) {
  torch::NoGradGuard no_grad;
  state = state.detach();
  for (int i = 0; i < loops; ++i) state = f(state);
  return state;
}

bool penalty_active(const JacobianPenaltyConfig& cfg, std::int64_t step_in_phase, int loops) {
  return cfg.weight > 0 && step_in_phase >= cfg.start_step && loops > 0;
}

Objective stars_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts) {
  const LoopOutput out = model->forward(batch.inputs, opts.forward);  // h_t after t loops
  Objective o;
  o.ce = answer_cross_entropy(out.logits, batch.targets);
  o.loss = o.ce;
  if (!opts.penalty) return o;
  // R at the final state h_t (or settle_loops past it), through Φ at the fixed input e: only
  // the core's weights learn. The rows are i.i.d. problems, so the first ones are a sample.
  const JacobianPenaltyConfig& cfg = *opts.penalty;
  const auto rows = penalty_rows(cfg, out.state.size(0));
  const StateMap f = model->state_map(out.input.narrow(0, 0, rows));
  const torch::Tensor state = settle(f, out.state.narrow(0, 0, rows), cfg.settle_loops);
  const torch::Tensor start =
      opts.power_start.defined() ? opts.power_start.narrow(0, 0, rows) : opts.power_start;
  o.penalty = jacobian_penalty(f, state, cfg, start);
  o.loss = mix_loss(o.ce, o.penalty, opts.penalty->weight);
  return o;
}

}  // namespace stars
