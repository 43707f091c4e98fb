#pragma once
// Depth sweeps: exact-match accuracy at each depth, optional latent-dynamics diagnostics
// (state norm, relative residual, spectral radius of the core's Jacobian, answer entropy)
// and adaptive exit. Results go to a terminal table, JSON and CSV.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json_fwd.hpp>

#include "stars/data/batch.hpp"
#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/dynamics/jacobian.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

struct SweepOptions {
  std::vector<int> depths;
  int batch = 256;
  int max_new_tokens = 6;
  bool use_cache = true;
  double exit_tol = 0;        // > 0: adaptive exit during decoding
  TokenExit token_exit;       // per-token exit during decoding
  bool share_depths = true;   // decode all depths in one pass where can_share_depths allows
  bool keep_outputs = false;  // DepthResult::outputs: each problem's decoded answer
  bool answer_loss = false;   // DepthResult::loss (answer_loss_at_depths)
  bool diagnostics = false;
  int diagnostics_n = 64;  // problems used for diagnostics (the first n)
  SpectralRadiusOptions radius{50, 1e-3, JacobianProduct::vjp};
};

struct Diagnostics {
  double state_norm = 0;  // mean over tokens of |h_t| (per-token vector norm)
  double residual = 0;    // mean over sequences of |h_t - h_{t-1}| / |h_{t-1}|
  double rho_mean = 0;    // per-sequence spectral radius of dPhi/dh at h_t: mean and max
  double rho_max = 0;
  double entropy = 0;  // mean predictive entropy (nats) on answer tokens, teacher-forced
};

struct DepthResult {
  int depth = 0;
  double accuracy = 0;
  int n = 0;
  std::optional<double> mean_loops;  // with adaptive exit: loops actually run per token
  std::optional<double> loss;        // with answer_loss: teacher-forced nats per answer token
  std::optional<Diagnostics> diag;
  std::vector<std::string> outputs;  // with keep_outputs: the decoded text per problem
};

/// One JSON object per (depth, problem): {"depth", "prompt", "target", "output",
/// "correct"}, the lines of stars-eval --predictions.
std::vector<nlohmann::json> prediction_records(const std::vector<DepthResult>& rows,
                                               const std::vector<Example>& examples);

/// Accuracy (and diagnostics) at every depth of `opts.depths`; `progress(i, n)` is called
/// after each depth decoded on its own, or once with i = n after all depths were decoded
/// in one shared pass.
std::vector<DepthResult> depth_sweep(
    LoopLM& model, const std::vector<Example>& examples, const Tokenizer& tok,
    const SweepOptions& opts, torch::Device device,
    const std::function<void(std::size_t, std::size_t)>& progress = {});

/// Diagnostics at each depth from one forward pass to the deepest depth.
std::vector<Diagnostics> dynamics_diagnostics(LoopLM& model, const std::vector<Example>& examples,
                                              const Tokenizer& tok, const std::vector<int>& depths,
                                              const SpectralRadiusOptions& radius,
                                              torch::Device device);

/// The same on a teacher-forced batch (entropy over the positions with a target).
std::vector<Diagnostics> dynamics_diagnostics(LoopLM& model, const Batch& batch,
                                              const std::vector<int>& depths,
                                              const SpectralRadiusOptions& radius);

/// Adds the diagnostic columns (state_norm, residual (null at depth 0), rho_mean, rho_max,
/// entropy) to `j`.
void add_diagnostics(nlohmann::json& j, const Diagnostics& g);
/// The same columns for CSV (",state_norm,...", then ",value,..."; residual empty at depth
/// 0) and for the terminal table (fixed width), shared by the task and text tables.
std::string diagnostics_csv_header();
std::string diagnostics_csv(const Diagnostics& g);
std::string diagnostics_table_header();
std::string diagnostics_table(const Diagnostics& g);
/// A table row's trailing columns: loops per token (adaptive exit) and the diagnostics,
/// each where present; and their header.
std::string trailing_columns_header(bool loops, bool diag);
std::string trailing_columns(const std::optional<double>& mean_loops,
                             const std::optional<Diagnostics>& diag);

/// {"depth", "accuracy", "n", ["mean_loops"], [diagnostic columns]}.
nlohmann::json to_json(const DepthResult& r);
/// CSV with a header row; the same columns as the JSON.
std::string to_csv(const std::vector<DepthResult>& rows);
/// Fixed-width table for the terminal.
std::string to_table(const std::vector<DepthResult>& rows);

}  // namespace stars
