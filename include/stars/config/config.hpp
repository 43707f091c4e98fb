#pragma once
// Typed experiment configuration. Member initialisers are the only home of defaults:
// a default-constructed Config is the embedded STARS default (configs/arith.json). What
// each key means and accepts is declared once, in the field lists of fields.hpp.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace stars {

enum class NormPlacement { pre, post, pre_sandwich, post_sandwich };
enum class NormType { layernorm, rmsnorm, simplenorm };
enum class Injection { none, add, concat };
/// Where a token's position enters: a learned table added to the embedding, or rotary
/// embeddings (RoPE) applied to each layer's queries and keys.
enum class Positions { learned, rope };
/// The MLP: out(gelu(fc(x))) or SwiGLU, down(silu(gate(x)) * up(x)).
enum class MlpKind { gelu, swiglu };
enum class SamplerKind { fixed, uniform, poisson, lognormal };
/// The Jacobian product the power iteration applies: vᵀJ (vjp, reverse mode) or J v (jvp).
enum class JacobianProduct { vjp, jvp };
/// How the power iteration's vector is normalised: over the whole batch or per sample.
enum class PowerIterationNorm { global, per_sample };
enum class PenaltyKind { square, hinge };
// Training a model's exit gate (Ouro's two stages; stars/train/objective.hpp).
enum class GateObjective { off, expected_loss, improvement };
enum class LrSchedule { cosine, wsd };

/// Shape of the LoopLM: prelude -> shared core looped t times -> coda -> norm -> tied head.
struct ModelConfig {
  int d_model = 192;
  int n_heads = 6;
  int d_ff = 384;
  int n_core_layers = 1;     // layers in the shared block
  int n_prelude_layers = 0;  // unshared layers before the loop
  int n_coda_layers = 0;     // unshared layers after the loop
  NormPlacement norm_placement = NormPlacement::post_sandwich;
  NormType norm_type = NormType::layernorm;
  Injection inject = Injection::none;
  double dropout = 0.0;
  int max_len = 64;  // learned positions
  // Standard deviation of the normal init of every linear and embedding weight. The
  // attention logits start at a scale of init_std^2 * d_model, and how long a small model
  // sits on its first loss plateau depends on it (docs/experiments.md).
  double init_std = 0.05;
  // The options of pretrained LoopLMs (Ouro, configs/ouro-tiny.json); the defaults keep
  // stars' own architecture.
  Positions positions = Positions::learned;
  double rope_theta = 10000;  // RoPE base
  MlpKind mlp = MlpKind::gelu;
  int n_kv_heads = 0;         // grouped-query attention; 0: n_heads (one key/value per head)
  bool bias = true;           // every linear layer has a bias
  bool tied_head = true;      // the head is the token embedding; false: a linear head
  bool norm_in_loop = false;  // the final norm ends each loop (its output feeds the next)
  double norm_eps = 1e-5;
  bool exit_gate = false;  // a linear map of each loop's state to an exit logit (Ouro)
};

/// Loop-count distribution for one training phase.
struct LoopsConfig {
  SamplerKind sampler = SamplerKind::lognormal;
  int n = 4;  // fixed
  int min = 1;
  int max = 100;
  double mu = 2.0;  // lognormal
  double sigma = 0.7;
  double lambda = 4.0;     // poisson
  int backprop_depth = 0;  // 0: backprop through every loop
  // > 0: each batch has one difficulty d and runs at least ceil(per_difficulty · d) loops
  double per_difficulty = 0;
};

/// The Jacobian spectral-radius penalty R (config key `jacobian_penalty`; `reg` is read too).
struct JacobianPenaltyConfig {
  double weight = 0.1;   // lambda in (1 - lambda) CE + lambda R; 0 switches it off
  int start_step = 300;  // counted from the start of the phase
  JacobianProduct product = JacobianProduct::vjp;
  int iters = 1;
  PowerIterationNorm normalize = PowerIterationNorm::global;
  PenaltyKind penalty = PenaltyKind::square;
  double target = 1.0;   // hinge only
  int settle_loops = 0;  // loops run without gradient past h_t before the penalty is taken
  double rows = 1.0;     // fraction of each batch's rows the penalty is computed on
};

/// A phase that ends early on a condition: every `every` steps of the phase, greedy
/// exact-match accuracy at `depth` on `n` problems (a stream of their own, drawn from
/// eval.seed but disjoint from the evaluation problems) is checked; once it reaches
/// `accuracy` the rest of the phase is skipped. `steps` stays the phase's upper bound, and
/// later phases keep their step numbers, data and schedules.
struct UntilConfig {
  double accuracy = 0;  // 0: off (the phase runs all its steps)
  int depth = 4;
  int every = 100;
  int n = 256;
};

/// How a phase trains the exit gate (model.exit_gate): not at all (off); Ouro's first stage,
/// the whole model on Σ_t p_t·CE_t − β·H(p) (expected_loss); or its second stage, the gate
/// alone against each loop's loss improvement (improvement).
struct ExitGateTrainingConfig {
  GateObjective objective = GateObjective::off;
  double entropy_weight = 0.1;        // β (expected_loss)
  double improvement_scale = 50.0;    // k in w_t = σ(k·(I_t − γ)) (improvement)
  double improvement_margin = 0.005;  // γ (improvement)
};

/// One stretch of training with its own schedule, loop sampler and Jacobian penalty.
struct PhaseConfig {
  std::string name = "stars";
  int steps = 1500;
  double lr = 3e-4;
  int warmup = 100;
  // After the warmup: cosine decay over the rest of the phase, or warmup-stable-decay (the
  // lr held, then a cosine decay over the last decay_fraction of the phase's steps).
  LrSchedule lr_schedule = LrSchedule::cosine;
  double decay_fraction = 0.1;
  double clip = 1.0;       // max global gradient norm; 0 disables
  int min_difficulty = 0;  // 0: the data section's range
  int max_difficulty = 0;
  LoopsConfig loops;
  JacobianPenaltyConfig jacobian_penalty;
  ExitGateTrainingConfig exit_gate;
  UntilConfig until;
};

struct TrainConfig {
  int batch = 128;
  int accumulation = 1;  // micro-batches of `batch` rows per optimizer step
  double weight_decay = 0.01;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double min_lr_ratio = 0.0;  // the decay's floor as a fraction of the phase lr
  int seed = 3;
  int log_every = 50;
  int eval_every = 500;
  int eval_n = 256;  // held-out problems for periodic evaluation
  int checkpoint_every = 500;
  int keep_checkpoints = 3;
  int max_bad_steps = 10;       // consecutive non-finite steps (skipped) before training stops
  std::string device = "auto";  // auto, cpu, cuda
  int threads = 0;              // 0: leave LibTorch's default
  // Matrix products: fp32, tf32 (CUDA) or bf16 (stars/kernels/precision.hpp).
  std::string precision = "fp32";
  // The AdamW update's kernel: auto, loop, foreach or fused (stars/train/adamw_update.hpp).
  std::string adamw = "auto";
  // Rows of each step's batch are split into this many shards, trained concurrently (one
  // LibTorch thread each) with their gradients summed in shard order: two single-threaded
  // halves run faster than one two-threaded step (docs/performance.md). 0: one shard per
  // LibTorch thread on the CPU without dropout, else 1.
  int batch_shards = 0;
  // Loops keep only their input state and recompute their activations in the backward
  // pass (gradient checkpointing): memory for a long tail or a large model, for about one
  // more forward pass of the core per step.
  bool recompute_loops = false;
  // Data-parallel runs (launched by torchrun): c10d backend and collective timeout.
  std::string dist_backend = "auto";  // auto (nccl on CUDA when built with it, else gloo)
  int dist_timeout_s = 300;           // a rank waiting longer on a peer stops with an error
};

struct DataConfig {
  std::string task = "addition";
  int digits = 4;
  // Each task has one difficulty dial: addition: digits; multiplication: digits of the
  // second factor (the first has `digits`); multi_add: operands of `digits` digits each;
  // chain: steps. Training draws it uniformly from [min, max]; 0 means the task's default.
  int min_difficulty = 0;
  int max_difficulty = 0;
  // Arithmetic tasks: optional JSONL problems (empty: generate from the task). Task
  // "text": the UTF-8 text to train on, read as bytes. Task "chat": JSONL conversations.
  std::string train_file;
  // Tasks "text" and "chat": the validation file; empty: the last valid_fraction of
  // train_file (text: cut at a line end; chat: its last rows), logged in the run's metrics.
  std::string valid_file;
  double valid_fraction = 0.05;
  // Text: bytes per training and validation window; chat: tokens per conversation, the
  // rest cut (at most model.max_len).
  int seq_len = 64;
  // Task "chat": a byte-level BPE (tokenizer.json, or a directory with it or with vocab.json
  // and merges.txt); it sets the vocabulary and is copied into the run directory.
  std::string tokenizer;
  std::string system;  // task "chat": a system turn put first where a row has none
};

struct EvalConfig {
  std::string depths = "1..8,12,16,24,32,48,64";
  std::vector<int> monitor_depths = {4, 32};  // periodic held-out accuracy during training
  int n = 500;
  int seed = 12345;  // differs from train.seed: held-out problems
  int batch = 256;
};

struct Config {
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  std::vector<PhaseConfig> phases = default_phases();
  EvalConfig eval;

  /// The STARS curriculum: fixed depth until addition is learned, then STARS.
  static std::vector<PhaseConfig> default_phases();
  /// Sum of the phases' steps.
  int total_steps() const;
};

// JSON in and out. from_json rejects unknown keys and wrong types, naming the key path.
void to_json(nlohmann::json& j, const Config& c);
Config config_from_json(const nlohmann::json& j);
/// Throws ConfigError naming the key path and bad value of the first out-of-range field.
void validate(const Config& c);
/// Settings that are valid but probably not what was meant (a penalty that never switches
/// on, a warmup longer than its phase), one sentence each naming the keys; stars-train
/// prints them at start.
std::vector<std::string> config_warnings(const Config& c);

/// Reads, parses and validates a JSON config file; errors name the file.
Config load_config(const std::string& path);
/// Parses a config from JSON text; `origin` names it in error messages.
Config parse_config(const std::string& text, const std::string& origin);
void save_config(const Config& c, const std::string& path);
/// The config as JSON without the keys that do not act on the run: a phase's loop
/// settings other than its sampler's, the penalty's settings while its weight is 0 (and
/// `target` unless it is a hinge), a goal's settings while it has no accuracy. Read back,
/// it gives a run that behaves the same (the omitted keys take their defaults).
nlohmann::json applicable_config_json(const Config& c);

/// The configuration reference as Markdown (docs/config.md): every key with its default,
/// what it accepts and what it means, from the field lists (fields.hpp).
std::string config_reference();

/// Applies `key.path=value` overrides (value parsed as JSON, else taken as a string).
Config apply_overrides(const Config& base, const std::vector<std::string>& assignments);

/// The config a resumed run continues with: its own, with overrides that may only extend
/// its last phase (phases.<last>.steps, never fewer) or change logging, evaluation and
/// checkpoint cadence. Anything else would make it another run, and is refused naming the
/// key and how to start a new run from its weights (--init).
Config resumed_config(const Config& run, const std::vector<std::string>& assignments);

// Enum names, shared by JSON and messages.
std::string to_string(NormPlacement v);
std::string to_string(NormType v);
std::string to_string(Injection v);
std::string to_string(Positions v);
std::string to_string(MlpKind v);
std::string to_string(SamplerKind v);
std::string to_string(JacobianProduct v);
std::string to_string(PowerIterationNorm v);
std::string to_string(PenaltyKind v);

}  // namespace stars
