#include "stars/model/memory_estimate.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "stars/config/errors.hpp"
#include "stars/model/looplm.hpp"
#include "stars/util/device_memory.hpp"

namespace stars {
namespace {

constexpr double kFloat = 4;  // bytes of a float32

/// Bytes a layer application keeps for backward, per token: about 12 tensors of width D
/// (qkv, attention output, projection, residual sums, norm outputs, with some allocator
/// slack), 2 of width F (the MLP's input to GELU and its output) and one attention row per
/// head. Calibrated on post_sandwich layernorm layers: within 5% of the measured growth of
/// the peak per loop (docs/reliability.md). The options of pretrained LoopLMs add what
/// each was measured to keep on top of that, one at a time, rounded up
/// (docs/reliability.md): RMSNorm, composed of element-wise ops, about 2.25 more D-wide
/// tensors per norm; rotary positions 7 (queries and keys rotated: x·cos, the rotated
/// half, ·sin, their sum); grouped key/value heads 3 (keys and values repeated to every
/// head); the sandwich's extra norm output 0.75; the final norm inside the loop 1.5 per
/// loop; SwiGLU 4.5 F-wide tensors (gate, up, SiLU and the product) where GELU keeps 2.
double layer_bytes_per_token(const ModelConfig& m, std::int64_t seq_len) {
  const bool sandwich = m.norm_placement == NormPlacement::pre_sandwich ||
                        m.norm_placement == NormPlacement::post_sandwich;
  double d_wide = 12.0;
  if (m.norm_type == NormType::rmsnorm) d_wide += 2.25 * (sandwich ? 4 : 2);
  if (m.positions == Positions::rope) d_wide += 7.0;
  if (m.n_kv_heads > 0 && m.n_kv_heads != m.n_heads) d_wide += 3.0;
  if (m.norm_placement == NormPlacement::pre_sandwich) d_wide += 0.75;
  if (m.norm_in_loop) d_wide += 1.5 / std::max(1, m.n_core_layers);
  const double f_wide = m.mlp == MlpKind::swiglu ? 4.5 : 2.0;
  return kFloat * (d_wide * m.d_model + f_wide * m.d_ff + 1.0 * m.n_heads * seq_len);
}

/// Weights, gradients and AdamW's two moments.
double training_state_bytes(const ModelConfig& m, std::int64_t vocab) {
  return 4 * kFloat * parameter_count(m, vocab);
}

}  // namespace

int max_loops(const LoopsConfig& loops) {
  return loops.sampler == SamplerKind::fixed ? loops.n : loops.max;
}

double training_step_bytes(const ModelConfig& model, const LoopsConfig& loops, bool penalty,
                           std::int64_t batch, std::int64_t seq_len, std::int64_t vocab,
                           int readouts, bool recompute) {
  const double loops_with_graph = loops.backprop_depth > 0
                                      ? std::min(loops.backprop_depth, max_loops(loops))
                                      : max_loops(loops);
  // Recomputed loops keep their input states; one loop's activations exist at a time, while
  // its backward pass runs. Each kept state was measured to cost 1.8 (default layer) to 2.2
  // (Ouro's) (B, T, D) tensors of peak resident memory, the rest being the CPU allocator's
  // slack between states and freed activations (docs/reliability.md): counted as 2.25.
  const double loops_kept = recompute ? 1 : loops_with_graph;
  // The penalty differentiates a VJP of the last loop: about three more core applications.
  const double applications = model.n_prelude_layers + model.n_coda_layers +
                              model.n_core_layers * (loops_kept + (penalty ? 3 : 0));
  const double tokens = static_cast<double>(batch) * static_cast<double>(seq_len);
  const double logits = 3 * kFloat * tokens * static_cast<double>(vocab) * readouts;
  const double states =
      recompute ? 2.25 * kFloat * tokens * model.d_model * (loops_with_graph + 1) : 0;
  return applications * tokens * layer_bytes_per_token(model, seq_len) + states + logits +
         training_state_bytes(model, vocab);
}

double decoding_bytes(const ModelConfig& model, std::int64_t batch, std::int64_t seq_len, int depth,
                      bool cache, bool keep_states, std::int64_t vocab, int logits_tensors) {
  const double tokens = static_cast<double>(batch) * static_cast<double>(seq_len);
  const double state = kFloat * tokens * model.d_model;  // one (B, T, D) tensor
  const double layers_per_pass = model.n_prelude_layers + model.n_coda_layers +
                                 static_cast<double>(model.n_core_layers) * depth;
  double bytes = tokens * layer_bytes_per_token(model, seq_len) +
                 kFloat * tokens * vocab * logits_tensors + kFloat * parameter_count(model, vocab);
  if (cache) bytes += 2 * state * layers_per_pass;  // keys and values of every layer pass
  if (keep_states) bytes += state * (depth + 1);
  return bytes;
}

double available_memory_bytes(const c10::Device& device) {
  if (const char* limit = std::getenv("STARS_MEMORY_LIMIT")) return std::strtod(limit, nullptr);
  if (device.is_cuda()) {
    if (const auto free = cuda_free_memory_bytes(device.has_index() ? device.index() : 0))
      return *free;
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string key;
    double kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return std::numeric_limits<double>::infinity();
}

std::string memory_place(const c10::Device& device) {
  if (!device.is_cuda()) return "memory";
  return fmt::format("memory on cuda:{}", device.has_index() ? device.index() : 0);
}

void check_training_memory(const Config& cfg, std::int64_t seq_len, std::int64_t vocab, int ranks,
                           const c10::Device& device) {
  const double available = available_memory_bytes(device);
  // train.batch is the global batch: each rank holds its share of a step.
  const int shares = std::max(1, ranks);
  const std::int64_t rows = (cfg.train.batch + shares - 1) / shares;
  const std::string batch = shares > 1 ? fmt::format("train.batch {} over {} ranks: {} rows",
                                                     cfg.train.batch, shares, rows)
                                       : fmt::format("train.batch {}", cfg.train.batch);
  for (std::size_t i = 0; i < cfg.phases.size(); ++i) {
    const PhaseConfig& phase = cfg.phases[i];
    const bool every_loop_read_out = phase.exit_gate.objective == GateObjective::expected_loss;
    const double need = training_step_bytes(
        cfg.model, phase.loops, phase.jacobian_penalty.weight > 0, rows, seq_len, vocab,
        every_loop_read_out ? max_loops(phase.loops) : 1, cfg.train.recompute_loops);
    if (need <= available) continue;
    const std::string at = "phases." + std::to_string(i) + ".loops.";
    // The gate's expected loss keeps every loop's logits: say so, it may be most of the step.
    const std::string gate =
        every_loop_read_out
            ? fmt::format(
                  " and phases.{}.exit_gate.objective expected_loss keeping the logits "
                  "of all {} loops (vocabulary {})",
                  i, max_loops(phase.loops), vocab)
            : "";
    throw ConfigError(
        fmt::format("phase {} ({}) needs about {} per training step ({} x {} tokens, up to {} "
                    "loops keeping a graph{}) but {} of {} is available; lower {} or train.batch, "
                    "keep a graph for only the last loops with {}backprop_depth{}",
                    i, phase.name, format_bytes(need), batch, seq_len,
                    phase.loops.backprop_depth > 0
                        ? std::min(phase.loops.backprop_depth, max_loops(phase.loops))
                        : max_loops(phase.loops),
                    gate, format_bytes(available), memory_place(device),
                    at + (phase.loops.sampler == SamplerKind::fixed ? "n" : "max"), at,
                    cfg.train.recompute_loops
                        ? ""
                        : ", or recompute each loop's activations in the backward pass with "
                          "train.recompute_loops"));
  }
}

void check_decoding_memory(const ModelConfig& model, std::int64_t batch, std::int64_t seq_len,
                           int depth, bool cache, bool keep_states, std::int64_t vocab,
                           int logits_tensors, const c10::Device& device) {
  const double need =
      decoding_bytes(model, batch, seq_len, depth, cache, keep_states, vocab, logits_tensors);
  const double available = available_memory_bytes(device);
  if (need <= available) return;
  throw ConfigError(fmt::format(
      "decoding {} sequences of up to {} tokens at depth {} needs about {} but {} of {} is "
      "available; lower --batch or the largest of --depths{}",
      batch, seq_len, depth, format_bytes(need), format_bytes(available), memory_place(device),
      cache ? ", or drop the key/value cache of every loop with --no-cache" : ""));
}

std::string format_bytes(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return fmt::format("{:.1f} GiB", bytes / (1 << 30));
  return fmt::format("{:.1f} MiB", bytes / (1 << 20));
}

}  // namespace stars
