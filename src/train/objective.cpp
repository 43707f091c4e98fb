#include "stars/train/objective.hpp"

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

bool penalty_active(const JacobianPenaltyConfig& cfg, std::int64_t step_in_phase, int loops) {
  return cfg.weight > 0 && step_in_phase >= cfg.start_step && loops > 0;
}

Objective stars_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts) {
  const LoopOutput out = model->forward(batch.inputs, opts.forward);  // h_t after t loops
  Objective o;
  o.ce = answer_cross_entropy(out.logits, batch.targets);
  o.loss = o.ce;
  if (!opts.penalty) return o;
  // R at the final state h_t, through Φ at the fixed input e: only the core's weights learn.
  o.penalty =
      jacobian_penalty(model->state_map(out.input), out.state, *opts.penalty, opts.power_start);
  o.loss = mix_loss(o.ce, o.penalty, opts.penalty->weight);
  return o;
}

}  // namespace stars
