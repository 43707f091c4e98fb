#pragma once
// Language-model evaluation of text by depth: bits per byte on validation windows, with
// the latent-dynamics diagnostics and adaptive exit of the task sweeps.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "stars/data/batch.hpp"
#include "stars/eval/evaluate.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

struct TextDepthResult {
  int depth = 0;
  double bits_per_byte = 0;          // mean cross-entropy per predicted byte, in bits
  std::int64_t bytes = 0;            // bytes predicted
  std::optional<double> mean_loops;  // with adaptive exit: loops run per sequence (per token)
  std::optional<Diagnostics> diag;
  /// Perplexity per byte, 2^bits_per_byte.
  double perplexity() const;
};

/// Bits per byte of `windows` (every target position counts) at each depth of
/// opts.depths, in batches of opts.batch windows. Without adaptive exit all depths come
/// from one pass of opts.depths' deepest loops (the state is read out at each depth on the
/// way); with adaptive exit (exit_tol or token_exit) each depth runs its own forward.
/// Diagnostics use the first opts.diagnostics_n windows.
std::vector<TextDepthResult> text_depth_sweep(
    LoopLM& model, const Batch& windows, const SweepOptions& opts,
    const std::function<void(std::size_t, std::size_t)>& progress = {});

/// {"depth", "bits_per_byte", "perplexity", "bytes", ["mean_loops"], [diagnostics]}.
nlohmann::json to_json(const TextDepthResult& r);
std::string to_csv(const std::vector<TextDepthResult>& rows);
std::string to_table(const std::vector<TextDepthResult>& rows);

}  // namespace stars
