#include "stars/model/token_exit.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "stars/config/enum_names.hpp"
#include "stars/model/exit_gate.hpp"
#include "token_exit_state.hpp"

namespace stars {
namespace {

constexpr EnumTable<ExitCriterion, 6> kCriteria{{{ExitCriterion::off, "off"},
                                                 {ExitCriterion::residual, "residual"},
                                                 {ExitCriterion::kl, "kl"},
                                                 {ExitCriterion::entropy, "entropy"},
                                                 {ExitCriterion::gate, "gate"},
                                                 {ExitCriterion::expected, "expected"}}};

constexpr const char* kForms =
    "residual:TOL, kl:TOL, entropy:TOL (TOL > 0), gate:P (0 < P <= 1), expected or off";

bool takes_threshold(ExitCriterion c) {
  return c != ExitCriterion::off && c != ExitCriterion::expected;
}

}  // namespace

TokenExit parse_token_exit(const std::string& spec, const std::string& where) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  TokenExit rule;
  for (const auto& [value, entry] : kCriteria)
    if (entry == name) rule.criterion = value;
  const bool known = enum_name(kCriteria, rule.criterion) == name;
  const bool has_value = colon != std::string::npos;
  if (!known || has_value != takes_threshold(rule.criterion))
    throw ConfigError(where + ": \"" + spec + "\" is not an exit rule; valid: " + kForms);
  if (!has_value) return rule;
  const std::string number = spec.substr(colon + 1);
  char* end = nullptr;
  rule.threshold = std::strtod(number.c_str(), &end);
  const bool parsed = !number.empty() && end == number.c_str() + number.size();
  const bool in_range = rule.criterion == ExitCriterion::gate
                            ? rule.threshold > 0 && rule.threshold <= 1
                            : rule.threshold > 0;
  if (!parsed || !std::isfinite(rule.threshold) || !in_range)
    throw ConfigError(where + ": \"" + spec + "\" has no valid threshold; valid: " + kForms);
  return rule;
}

std::string token_exit_name(const TokenExit& rule) {
  std::string name = enum_name(kCriteria, rule.criterion);
  if (!takes_threshold(rule.criterion)) return name;
  std::ostringstream out;
  out << name << ':' << rule.threshold;
  return out.str();
}

TokenExitState::TokenExitState(LoopLMImpl& model, const TokenExit& rule, const torch::Tensor& h0,
                               DecodeCache* cache, int n_loops)
    : model_(model), rule_(rule), cache_(cache), n_loops_(n_loops) {
  if (rule.needs_gate() && !model.exit_gate)
    throw ConfigError("the exit rule " + token_exit_name(rule) +
                      " reads the exit gate, and this model has none "
                      "(model.exit_gate = false)");
  const auto positions = h0.sizes().slice(0, 2);
  active_ = torch::ones(positions, h0.options().dtype(torch::kBool));
  loops_ = torch::zeros(positions, h0.options().dtype(torch::kLong));
  if (rule.needs_logits()) prev_logp_ = log_probs(h0);
  if (rule.needs_gate()) {
    survive_ = torch::ones(positions, h0.options());
    cumulative_ = torch::zeros(positions, h0.options());
  }
}

torch::Tensor TokenExitState::peek_logits(const torch::Tensor& state) {
  if (!cache_) return model_.readout(state);
  std::vector<KVCache> coda = cache_->coda;  // appending to the copy leaves the cache as is
  return model_.readout(state, &coda);
}

torch::Tensor TokenExitState::log_probs(const torch::Tensor& state) {
  return torch::log_softmax(peek_logits(state).to(torch::kFloat), -1);
}

torch::Tensor TokenExitState::criterion_met(const torch::Tensor& h, const torch::Tensor& next,
                                            int loop) {
  switch (rule_.criterion) {
    case ExitCriterion::residual: {  // relative_residual with each position as its own row
      const auto positions = next.sizes().slice(0, 2);
      const auto residual =
          relative_residual(next.flatten(0, 1).unsqueeze(1), h.flatten(0, 1).unsqueeze(1));
      return residual.view(positions) < rule_.threshold;
    }
    case ExitCriterion::kl:
    case ExitCriterion::entropy: {
      const auto logp = log_probs(next);
      const auto p = logp.exp();
      torch::Tensor change;
      if (rule_.criterion == ExitCriterion::kl)
        change = (p * (logp - prev_logp_)).sum(-1);  // KL(p_i ‖ p_{i−1})
      else
        change = ((p * logp).sum(-1) - (prev_logp_.exp() * prev_logp_).sum(-1)).abs();
      prev_logp_ = logp;
      return change < rule_.threshold;
    }
    case ExitCriterion::gate:
    case ExitCriterion::expected: {
      const bool last = loop + 1 == n_loops_;  // the last loop takes the remaining mass
      const auto lambda = last ? torch::ones_like(survive_) : exit_probability(model_, next);
      const auto p = lambda * survive_;
      survive_ = survive_ * (1 - lambda);
      cumulative_ = cumulative_ + p;
      if (rule_.criterion == ExitCriterion::gate) return cumulative_ >= rule_.threshold;
      const auto weighted = p.unsqueeze(-1) * peek_logits(next);
      expected_ = expected_.defined() ? expected_ + weighted : weighted;
      return torch::zeros_like(active_);  // every loop runs
    }
    case ExitCriterion::off:
      break;
  }
  return torch::zeros_like(active_);
}

torch::Tensor TokenExitState::step(const torch::Tensor& h, const torch::Tensor& next, int loop) {
  const auto kept = torch::where(active_.unsqueeze(-1), next, h);
  loops_ += active_.to(torch::kLong);
  active_ = active_.logical_and(criterion_met(h, next, loop).logical_not());
  return kept;
}

}  // namespace stars
