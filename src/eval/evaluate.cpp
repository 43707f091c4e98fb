#include "stars/eval/evaluate.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/data/batch.hpp"
#include "stars/eval/answer_loss.hpp"
#include "stars/eval/decode.hpp"

namespace stars {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Mean entropy (nats) of the predictive distribution at answer positions.
double answer_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  const auto logp = torch::log_softmax(logits.to(torch::kFloat), -1);  // (B, T, V)
  const auto ent = -(logp.exp() * logp).sum(-1);                       // (B, T)
  const auto mask = targets != kIgnoreIndex;
  return ent.masked_select(mask).mean().item<double>();
}

Diagnostics diagnose_state(LoopLM& model, const LoopOutput& out, std::size_t d,
                           const torch::Tensor& targets, const SpectralRadiusOptions& radius) {
  Diagnostics g;
  const auto& h = out.states[d];  // (B, T, D)
  g.state_norm = h.norm(2, -1).mean().item<double>();
  g.residual = kNaN;
  if (d > 0) {
    const auto& prev = out.states[d - 1];
    g.residual = relative_residual(h, prev).mean().item<double>();
  }
  const auto rho = spectral_radius(model->state_map(out.input), h, radius).rho;  // (B)
  g.rho_mean = rho.mean().item<double>();
  g.rho_max = rho.max().item<double>();
  g.entropy = answer_entropy(model->readout(h), targets);
  return g;
}

}  // namespace

void add_diagnostics(nlohmann::json& j, const Diagnostics& g) {
  auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  j["state_norm"] = g.state_norm;
  j["residual"] = num(g.residual);
  j["rho_mean"] = g.rho_mean;
  j["rho_max"] = g.rho_max;
  j["entropy"] = g.entropy;
}

std::string diagnostics_csv_header() {
  return ",state_norm,residual,rho_mean,rho_max,entropy";
}

std::string diagnostics_csv(const Diagnostics& g) {
  std::ostringstream out;
  out << "," << g.state_norm << "," << (std::isnan(g.residual) ? "" : std::to_string(g.residual))
      << "," << g.rho_mean << "," << g.rho_max << "," << g.entropy;
  return out.str();
}

std::string diagnostics_table_header() {
  return "  state_norm   residual  rho_mean   rho_max  entropy";
}

std::string diagnostics_table(const Diagnostics& g) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "  %10.3f %10.4g %9.3f %9.3f %8.4f", g.state_norm, g.residual,
                g.rho_mean, g.rho_max, g.entropy);
  return buf;
}

std::string trailing_columns_header(bool loops, bool diag) {
  return std::string(loops ? "  mean_loops" : "") + (diag ? diagnostics_table_header() : "");
}

std::string trailing_columns(const std::optional<double>& mean_loops,
                             const std::optional<Diagnostics>& diag) {
  std::string out;
  if (mean_loops) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %10.2f", *mean_loops);
    out += buf;
  }
  if (diag) out += diagnostics_table(*diag);
  return out;
}

std::vector<Diagnostics> dynamics_diagnostics(LoopLM& model, const std::vector<Example>& examples,
                                              const Tokenizer& tok, const std::vector<int>& depths,
                                              const SpectralRadiusOptions& radius,
                                              torch::Device device) {
  if (depths.empty() || examples.empty()) return {};
  return dynamics_diagnostics(model, make_batch(examples, tok, device), depths, radius);
}

std::vector<Diagnostics> dynamics_diagnostics(LoopLM& model, const Batch& batch,
                                              const std::vector<int>& depths,
                                              const SpectralRadiusOptions& radius) {
  if (depths.empty() || batch.inputs.size(0) == 0) return {};
  torch::NoGradGuard no_grad;
  ForwardOptions fwd;
  fwd.n_loops = *std::max_element(depths.begin(), depths.end());
  fwd.keep_states = true;
  const LoopOutput out = model->forward(batch.inputs, fwd);
  std::vector<Diagnostics> result;
  for (int d : depths)
    result.push_back(
        diagnose_state(model, out, static_cast<std::size_t>(d), batch.targets, radius));
  return result;
}

std::vector<DepthResult> depth_sweep(
    LoopLM& model, const std::vector<Example>& examples, const Tokenizer& tok,
    const SweepOptions& opts, torch::Device device,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  model->eval();
  std::vector<Diagnostics> diag;
  if (opts.diagnostics) {
    const std::size_t n = std::min(examples.size(), static_cast<std::size_t>(opts.diagnostics_n));
    diag = dynamics_diagnostics(
        model, {examples.begin(), examples.begin() + static_cast<std::ptrdiff_t>(n)}, tok,
        opts.depths, opts.radius, device);
  }
  DecodeOptions dec;
  dec.max_new_tokens = opts.max_new_tokens;
  dec.use_cache = opts.use_cache;
  dec.exit_tol = opts.exit_tol;
  dec.token_exit = opts.token_exit;
  std::vector<double> losses;
  if (opts.answer_loss)
    losses = answer_loss_at_depths(model, examples, tok, opts.depths, opts.batch, device);
  std::vector<Answers> answers;
  if (opts.share_depths && can_share_depths(model, dec)) {
    answers = decode_answers_at_depths(model, examples, tok, opts.depths, dec, opts.batch, device);
    if (progress) progress(opts.depths.size(), opts.depths.size());  // all done at once
  }
  std::vector<DepthResult> rows;
  for (std::size_t i = 0; i < opts.depths.size(); ++i) {
    DepthResult r;
    r.depth = dec.n_loops = opts.depths[i];
    Answers one = answers.empty() ? decode_answers(model, examples, tok, dec, opts.batch, device)
                                  : std::move(answers[i]);
    r.accuracy = score_answers(examples, one.texts);
    if (opts.exit_tol > 0 || opts.token_exit.on()) r.mean_loops = one.mean_loops;
    if (opts.keep_outputs) r.outputs = std::move(one.texts);
    if (opts.answer_loss) r.loss = losses[i];
    r.n = static_cast<int>(examples.size());
    if (opts.diagnostics) r.diag = diag[i];
    rows.push_back(r);
    if (progress && answers.empty()) progress(i + 1, opts.depths.size());
  }
  return rows;
}

std::vector<nlohmann::json> prediction_records(const std::vector<DepthResult>& rows,
                                               const std::vector<Example>& examples) {
  std::vector<nlohmann::json> records;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.outputs.size() && i < examples.size(); ++i)
      records.push_back({{"depth", r.depth},
                         {"prompt", examples[i].prompt},
                         {"target", examples[i].answer},
                         {"output", r.outputs[i]},
                         {"correct", answer_matches(r.outputs[i], examples[i].answer)}});
  return records;
}

nlohmann::json to_json(const DepthResult& r) {
  nlohmann::json j{{"depth", r.depth}, {"accuracy", r.accuracy}, {"n", r.n}};
  if (r.mean_loops) j["mean_loops"] = *r.mean_loops;
  if (r.loss) j["loss"] = *r.loss;
  if (r.diag) add_diagnostics(j, *r.diag);
  return j;
}

std::string to_csv(const std::vector<DepthResult>& rows) {
  std::ostringstream out;
  const bool loops = !rows.empty() && rows[0].mean_loops, diag = !rows.empty() && rows[0].diag,
             loss = !rows.empty() && rows[0].loss;
  out << "depth,accuracy,n" << (loops ? ",mean_loops" : "") << (loss ? ",loss" : "")
      << (diag ? diagnostics_csv_header() : "") << "\n";
  for (const auto& r : rows) {
    out << r.depth << "," << r.accuracy << "," << r.n;
    if (loops) out << "," << *r.mean_loops;
    if (loss) out << "," << *r.loss;
    if (diag) out << diagnostics_csv(*r.diag);
    out << "\n";
  }
  return out.str();
}

std::string to_table(const std::vector<DepthResult>& rows) {
  std::ostringstream out;
  const bool loops = !rows.empty() && rows[0].mean_loops, diag = !rows.empty() && rows[0].diag,
             loss = !rows.empty() && rows[0].loss;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%6s %9s%s", "depth", "accuracy", loss ? "      loss" : "");
  out << buf << trailing_columns_header(loops, diag) << "\n";
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%6d %9.4f", r.depth, r.accuracy);
    out << buf;
    if (loss) {
      std::snprintf(buf, sizeof buf, " %9.4f", *r.loss);
      out << buf;
    }
    out << trailing_columns(r.mean_loops, r.diag) << "\n";
  }
  return out.str();
}

}  // namespace stars
