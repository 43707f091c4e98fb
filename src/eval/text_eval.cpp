#include "stars/eval/text_eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/eval/answer_loss.hpp"

namespace stars {
namespace {

Batch rows(const Batch& b, std::int64_t begin, std::int64_t end) {
  return {b.inputs.slice(0, begin, end), b.targets.slice(0, begin, end)};
}

}  // namespace

double TextDepthResult::perplexity() const {
  return std::exp2(bits_per_byte);
}

std::vector<TextDepthResult> text_depth_sweep(
    LoopLM& model, const Batch& windows, const SweepOptions& opts,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  torch::NoGradGuard no_grad;
  model->eval();
  const std::int64_t n = windows.inputs.size(0);
  const auto bytes = (windows.targets != kIgnoreIndex).sum().item<std::int64_t>();
  std::vector<double> nats(opts.depths.size(), 0.0), loops(opts.depths.size(), 0.0);
  for (std::int64_t s = 0; s < n; s += opts.batch) {
    const Batch part = rows(windows, s, std::min(n, s + opts.batch));
    const bool adaptive = opts.exit_tol > 0 || opts.token_exit.on();
    if (!adaptive) {
      const auto part_nats = nats_by_depth(model, part, opts.depths);
      for (std::size_t i = 0; i < nats.size(); ++i) nats[i] += part_nats[i];
      continue;
    }
    for (std::size_t i = 0; i < opts.depths.size(); ++i) {
      ForwardOptions fwd;
      fwd.n_loops = opts.depths[i];
      fwd.exit_tol = opts.exit_tol;
      fwd.token_exit = opts.token_exit;
      const LoopOutput out = model->forward(part.inputs, fwd);
      nats[i] += summed_nats(out.logits, part.targets);
      // Per sequence with exit_tol; per position with token_exit, averaged over its positions.
      loops[i] += out.token_loops.defined()
                      ? out.token_loops.to(torch::kDouble).mean(1).sum().item<double>()
                  : out.loops_used.defined()
                      ? out.loops_used.sum().item<double>()
                      : static_cast<double>(fwd.n_loops * part.inputs.size(0));
    }
  }
  std::vector<Diagnostics> diag;
  if (opts.diagnostics)
    diag =
        dynamics_diagnostics(model, rows(windows, 0, std::min<std::int64_t>(n, opts.diagnostics_n)),
                             opts.depths, opts.radius);
  std::vector<TextDepthResult> result;
  for (std::size_t i = 0; i < opts.depths.size(); ++i) {
    TextDepthResult r;
    r.depth = opts.depths[i];
    r.bytes = bytes;
    r.bits_per_byte = nats[i] / static_cast<double>(bytes) / std::log(2.0);
    if (opts.exit_tol > 0 || opts.token_exit.on()) r.mean_loops = loops[i] / static_cast<double>(n);
    if (opts.diagnostics) r.diag = diag[i];
    result.push_back(r);
    if (progress) progress(i + 1, opts.depths.size());
  }
  return result;
}

nlohmann::json to_json(const TextDepthResult& r) {
  nlohmann::json j{{"depth", r.depth},
                   {"bits_per_byte", r.bits_per_byte},
                   {"perplexity", r.perplexity()},
                   {"bytes", r.bytes}};
  if (r.mean_loops) j["mean_loops"] = *r.mean_loops;
  if (r.diag) add_diagnostics(j, *r.diag);
  return j;
}

std::string to_csv(const std::vector<TextDepthResult>& rows) {
  std::ostringstream out;
  const bool loops = !rows.empty() && rows[0].mean_loops, diag = !rows.empty() && rows[0].diag;
  out << "depth,bits_per_byte,perplexity,bytes" << (loops ? ",mean_loops" : "")
      << (diag ? diagnostics_csv_header() : "") << "\n";
  for (const auto& r : rows) {
    out << r.depth << "," << r.bits_per_byte << "," << r.perplexity() << "," << r.bytes;
    if (loops) out << "," << *r.mean_loops;
    if (diag) out << diagnostics_csv(*r.diag);
    out << "\n";
  }
  return out.str();
}

std::string to_table(const std::vector<TextDepthResult>& rows) {
  std::ostringstream out;
  const bool loops = !rows.empty() && rows[0].mean_loops, diag = !rows.empty() && rows[0].diag;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%6s %13s %11s", "depth", "bits_per_byte", "perplexity");
  out << buf << trailing_columns_header(loops, diag) << "\n";
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%6d %13.4f %11.3f", r.depth, r.bits_per_byte, r.perplexity());
    out << buf << trailing_columns(r.mean_loops, r.diag) << "\n";
  }
  return out.str();
}

}  // namespace stars
