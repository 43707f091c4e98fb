#include "stars/train/objective.hpp"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "stars/dynamics/jacobian.hpp"
#include "stars/model/exit_gate.hpp"

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

torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(
             logits.flatten(0, 1), targets.flatten(),
             F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex).reduction(torch::kNone))
      .view_as(targets);
}

namespace {

/// Mean of a per-position quantity (B, T) over the positions with a target.
torch::Tensor mean_over_targets(const torch::Tensor& per_position, const torch::Tensor& targets) {
  const auto mask = (targets != kIgnoreIndex).to(per_position.dtype());
  return (per_position * mask).sum() / mask.sum().clamp_min(1);
}

}  // namespace

torch::Tensor gate_expected_loss(LoopLM& model, const std::vector<torch::Tensor>& states,
                                 const torch::Tensor& targets, double entropy_weight) {
  std::vector<torch::Tensor> ce, lambda;
  for (const auto& h : states) {
    ce.push_back(token_cross_entropy(model->readout(h), targets));
    lambda.push_back(exit_probability(model, h));
  }
  const auto p = exit_distribution(lambda);  // (t, B, T)
  const auto expected = (p * torch::stack(ce)).sum(0);
  const auto entropy = -(p * p.clamp_min(1e-12).log()).sum(0);
  return mean_over_targets(expected - entropy_weight * entropy, targets);
}

torch::Tensor gate_improvement_loss(LoopLM& model, const std::vector<torch::Tensor>& states,
                                    const torch::Tensor& targets, double scale, double margin) {
  std::vector<torch::Tensor> ce;
  {
    torch::NoGradGuard no_grad;
    for (const auto& h : states) ce.push_back(token_cross_entropy(model->readout(h), targets));
  }
  const auto t = static_cast<std::int64_t>(states.size());
  torch::Tensor loss = torch::zeros({}, states.front().options());
  for (std::int64_t s = 1; s < t; ++s) {  // loops 2..t, 0-based
    const auto i = static_cast<std::size_t>(s);
    const auto improvement = (ce[i - 1] - ce[i]).clamp_min(0);
    const auto worth = torch::sigmoid(scale * (improvement - margin));  // w_s: continue
    const auto lambda = exit_probability(model, states[i].detach());
    const auto bce = -(worth * torch::log1p(-lambda).clamp_min(-100) +
                       (1 - worth) * lambda.log().clamp_min(-100));
    loss = loss + mean_over_targets(bce, targets);
  }
  if (t < 2) loss = loss + 0 * model->exit_gate->weight.sum();  // no improvement to learn
  return loss / static_cast<double>(t);
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

namespace {

/// o.loss = (1 − λ)·o.ce + λ·R, R at the final state of `out` (or settle_loops past it),
/// through Φ at the fixed input e: only the core's weights learn. The rows are i.i.d.
/// problems, so the first ones are a sample.
void add_penalty(LoopLM& model, const LoopOutput& out, const ObjectiveOptions& opts, Objective& o) {
  const JacobianPenaltyConfig& cfg = *opts.penalty;
  const auto rows = penalty_rows(cfg, out.state.size(0));
  const StateMap f = model->state_map(out.input.narrow(0, 0, rows));
  const torch::Tensor state = settle(f, out.state.narrow(0, 0, rows), cfg.settle_loops);
  const torch::Tensor start =
      opts.power_start.defined() ? opts.power_start.narrow(0, 0, rows) : opts.power_start;
  o.penalty = jacobian_penalty(f, state, cfg, start);
  o.loss = mix_loss(o.ce, o.penalty, cfg.weight);
}

/// The states h_1..h_t of `out` (kept with keep_states), or h_0 alone when t = 0.
std::vector<torch::Tensor> loop_states(const LoopOutput& out) {
  if (out.states.size() < 2) return {out.states.front()};
  return {out.states.begin() + 1, out.states.end()};
}

/// The objective with the exit gate trained (opts.gate on).
Objective gate_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts) {
  const ExitGateTrainingConfig& gate = *opts.gate;
  ForwardOptions fwd = opts.forward;
  fwd.keep_states = true;
  Objective o;
  if (gate.objective == GateObjective::improvement) {  // the gate alone: states without graph
    LoopOutput out;
    {
      torch::NoGradGuard no_grad;
      out = model->forward(batch.inputs, fwd);
    }
    o.ce = gate_improvement_loss(model, loop_states(out), batch.targets, gate.improvement_scale,
                                 gate.improvement_margin);
    o.loss = o.ce;
    return o;
  }
  const LoopOutput out = model->forward(batch.inputs, fwd);
  o.ce = gate_expected_loss(model, loop_states(out), batch.targets, gate.entropy_weight);
  o.loss = o.ce;
  if (opts.penalty) add_penalty(model, out, opts, o);
  return o;
}

}  // namespace

Objective stars_objective(LoopLM& model, const Batch& batch, const ObjectiveOptions& opts) {
  if (opts.gate && opts.gate->objective != GateObjective::off)
    return gate_objective(model, batch, opts);
  const LoopOutput out = model->forward(batch.inputs, opts.forward);  // h_t after t loops
  Objective o;
  o.ce = answer_cross_entropy(out.logits, batch.targets);
  o.loss = o.ce;
  if (opts.penalty) add_penalty(model, out, opts, o);
  return o;
}

}  // namespace stars
