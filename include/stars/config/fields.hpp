#pragma once
// Every config setting, declared once. One field list per section names each key, the
// values it accepts and what it means; reading (strict JSON), writing, range checks and the
// reference (docs/config.md, printed by `stars-train --config-reference`) all walk these
// lists with a visitor. Defaults live only in the structs' member initialisers (config.hpp).
//
// A visitor V provides:
//   v.field(key, value, accepts, meaning)      int, double, std::string, std::vector<int>
//   v.choice(key, value, table, meaning)       an enum, by the names in `table`
//   v.section(key, sub, meaning[, old_key])    a nested section, walked by fields(v, sub)
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "stars/config/config.hpp"
#include "stars/config/enum_names.hpp"

namespace stars::config_fields {

/// The numbers a setting accepts: an interval, closed or open at each end, with a note on
/// what special values mean.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  const char* note = nullptr;  // e.g. "0: never"

  bool contains(double x) const;
  /// "must be > 0", "must be in [0, 1) (0: off)".
  std::string rule() const;
};

/// x >= min.
Range at_least(double min, const char* note = nullptr);
/// x > min.
Range above(double min, const char* note = nullptr);
/// x in the interval `brackets` ("[]", "[)", "(]" or "()") from min to max.
Range between(double min, double max, const char* brackets, const char* note = nullptr);

/// The words a string setting accepts.
struct Words {
  std::vector<std::string> valid;
  bool contains(const std::string& word) const;
  std::string rule() const;  // "valid: auto, cpu, cuda"
};

/// Any string (a path, a depth list checked where it is parsed).
struct AnyText {};

/// true or false.
struct Flag {};

inline constexpr EnumTable<NormPlacement, 4> kPlacements{
    {{NormPlacement::pre, "pre"},
     {NormPlacement::post, "post"},
     {NormPlacement::pre_sandwich, "pre_sandwich"},
     {NormPlacement::post_sandwich, "post_sandwich"}}};
inline constexpr EnumTable<NormType, 3> kNormTypes{{{NormType::layernorm, "layernorm"},
                                                    {NormType::rmsnorm, "rmsnorm"},
                                                    {NormType::simplenorm, "simplenorm"}}};
inline constexpr EnumTable<Injection, 3> kInjections{
    {{Injection::none, "none"}, {Injection::add, "add"}, {Injection::concat, "concat"}}};
inline constexpr EnumTable<Positions, 2> kPositions{
    {{Positions::learned, "learned"}, {Positions::rope, "rope"}}};
inline constexpr EnumTable<MlpKind, 2> kMlps{
    {{MlpKind::gelu, "gelu"}, {MlpKind::swiglu, "swiglu"}}};
inline constexpr EnumTable<SamplerKind, 4> kSamplers{{{SamplerKind::fixed, "fixed"},
                                                      {SamplerKind::uniform, "uniform"},
                                                      {SamplerKind::poisson, "poisson"},
                                                      {SamplerKind::lognormal, "lognormal"}}};
inline constexpr EnumTable<JacobianProduct, 2> kProducts{
    {{JacobianProduct::vjp, "vjp"}, {JacobianProduct::jvp, "jvp"}}};
inline constexpr EnumTable<PowerIterationNorm, 2> kPowerIterationNorms{
    {{PowerIterationNorm::global, "global"}, {PowerIterationNorm::per_sample, "per_sample"}}};
inline constexpr EnumTable<PenaltyKind, 2> kPenalties{
    {{PenaltyKind::square, "square"}, {PenaltyKind::hinge, "hinge"}}};

inline constexpr EnumTable<LrSchedule, 2> kLrSchedules{
    {{LrSchedule::cosine, "cosine"}, {LrSchedule::wsd, "wsd"}}};

inline constexpr EnumTable<GateObjective, 3> kGateObjectives{
    {{GateObjective::off, "off"},
     {GateObjective::expected_loss, "expected_loss"},
     {GateObjective::improvement, "improvement"}}};

/// The key a renamed setting has now ("reg" -> "jacobian_penalty"); others unchanged.
std::string current_key(const std::string& key);

template <typename V>
void fields(V& v, ModelConfig& m) {
  v.field("d_model", m.d_model, at_least(1), "width of the residual stream");
  v.field("n_heads", m.n_heads, at_least(1), "attention heads; must divide d_model");
  v.field("d_ff", m.d_ff, at_least(1), "hidden width of the MLP");
  v.field("n_core_layers", m.n_core_layers, at_least(1), "layers in the shared, looped block");
  v.field("n_prelude_layers", m.n_prelude_layers, at_least(0), "unshared layers before the loop");
  v.field("n_coda_layers", m.n_coda_layers, at_least(0), "unshared layers after the loop");
  v.choice("norm_placement", m.norm_placement, kPlacements,
           "where each sub-layer's norms sit: x + f(N(x)), N(x + f(x)) or sandwiches of both");
  v.choice("norm_type", m.norm_type, kNormTypes, "normalisation layer");
  v.choice("inject", m.inject, kInjections,
           "how the embedded input e enters each loop: Φ(h), Φ(h + e) or Φ(W[h; e])");
  v.field("dropout", m.dropout, between(0, 1, "[)"), "dropout probability");
  v.field("max_len", m.max_len, at_least(1), "learned positions (longest sequence)");
  v.field("init_std", m.init_std, between(0, 1, "(]"),
          "standard deviation of the normal init of every linear and embedding weight; the "
          "attention logits start at a scale of init_std² · d_model");
  v.choice("positions", m.positions, kPositions,
           "positions as a learned table added to the embedding, or rotary embeddings of each "
           "layer's queries and keys (max_len still bounds the sequence)");
  v.field("rope_theta", m.rope_theta, above(0), "rotary embeddings' base (positions = rope)");
  v.choice("mlp", m.mlp, kMlps, "MLP: out(gelu(fc(x))) or SwiGLU down(silu(gate(x)) · up(x))");
  v.field("n_kv_heads", m.n_kv_heads, at_least(0, "0: n_heads"),
          "key/value heads (grouped-query attention); must divide n_heads");
  v.field("bias", m.bias, Flag{}, "every linear layer has a bias");
  v.field("tied_head", m.tied_head, Flag{},
          "the output head is the token embedding (false: a linear head of its own)");
  v.field("norm_in_loop", m.norm_in_loop, Flag{},
          "the final norm ends every loop and its output feeds the next, as in Ouro "
          "(false: it is applied once, before the head)");
  v.field("norm_eps", m.norm_eps, between(0, 1, "()"),
          "epsilon of every norm (RMSNorm is computed in float32 whatever the dtype)");
  v.field("exit_gate", m.exit_gate, Flag{},
          "a linear gate maps each loop's state to an exit logit, as Ouro's early_exit_gate "
          "(sigmoid: the probability of stopping at that loop)");
}

template <typename V>
void fields(V& v, LoopsConfig& l) {
  v.choice("sampler", l.sampler, kSamplers,
           "loop count per step: fixed n, uniform [min, max], poisson(lambda) or "
           "round(exp(mu + sigma z)), the last two clamped to [min, max]");
  v.field("n", l.n, at_least(0), "loops of the fixed sampler");
  v.field("min", l.min, at_least(0), "fewest loops");
  v.field("max", l.max, at_least(0), "most loops; must be >= min");
  v.field("mu", l.mu, Range{}, "lognormal: mean of log t");
  v.field("sigma", l.sigma, above(0), "lognormal: standard deviation of log t");
  v.field("lambda", l.lambda, between(0, 500, "(]"), "poisson: mean loops");
  v.field("backprop_depth", l.backprop_depth, at_least(0, "0 backpropagates through every loop"),
          "only the last k loops build an autograd graph (truncated backprop through depth)");
  v.field("per_difficulty", l.per_difficulty, between(0, 1000, "[]", "0: off"),
          "loop counts tied to difficulty: each batch draws one difficulty d from the phase's "
          "range and runs max(t, ceil(per_difficulty · d)) loops, t the sampler's draw");
}

template <typename V>
void fields(V& v, JacobianPenaltyConfig& g) {
  v.field("weight", g.weight, between(0, 1, "[)", "0: off"),
          "λ in (1 − λ)·CE + λ·R, R the Jacobian penalty");
  v.field("start_step", g.start_step, at_least(0),
          "first step of the phase (counted from its start) with the penalty");
  v.choice("product", g.product, kProducts,
           "Jacobian product of the power iteration: vjp (vᵀJ, reverse mode) or jvp (J v)");
  v.field("iters", g.iters, at_least(1), "power-iteration steps; the last is differentiated");
  v.choice("normalize", g.normalize, kPowerIterationNorms,
           "power-iteration vector normalised over the whole batch (global) or per sample");
  v.choice("penalty", g.penalty, kPenalties, "R = |u|² (square) or max(0, |u| − target)² (hinge)");
  v.field("target", g.target, at_least(0), "hinge only: the norm left unpenalised");
  v.field("settle_loops", g.settle_loops, at_least(0, "0: at the final state h_t"),
          "loops of Φ run without gradient past h_t before the penalty is taken, so that it "
          "constrains the state nearer its fixed point rather than the transient");
  v.field("rows", g.rows, between(0, 1, "(]"),
          "fraction of each batch's rows (the first ones) the penalty is computed on; its cost "
          "scales with it");
}

template <typename V>
void fields(V& v, ExitGateTrainingConfig& g) {
  v.choice("objective", g.objective, kGateObjectives,
           "off; expected_loss: the whole model on Σ_t p_t·CE_t − β·H(p), p the gate's exit "
           "distribution (Ouro's first stage); improvement: the gate alone, each loop's exit "
           "probability against whether the loop improved the loss (Ouro's second stage)");
  v.field("entropy_weight", g.entropy_weight, at_least(0), "expected_loss: β");
  v.field("improvement_scale", g.improvement_scale, above(0),
          "improvement: k in the target w_t = σ(k·(I_t − γ)) of continuing past loop t");
  v.field("improvement_margin", g.improvement_margin, at_least(0),
          "improvement: γ, the loss improvement (nats per token) worth another loop");
}

template <typename V>
void fields(V& v, UntilConfig& u) {
  v.field("accuracy", u.accuracy, between(0, 1, "[]", "0: the phase runs all its steps"),
          "the phase ends once greedy accuracy at `depth` reaches this");
  v.field("depth", u.depth, at_least(0), "loops at which the goal is checked");
  v.field("every", u.every, at_least(1), "steps of the phase between checks");
  v.field("n", u.n, at_least(1), "problems per check (a stream of their own)");
}

template <typename V>
void fields(V& v, PhaseConfig& p) {
  v.field("name", p.name, AnyText{}, "label in logs and metrics");
  v.field("steps", p.steps, at_least(1), "steps of the phase (the upper bound with `until`)");
  v.field("lr", p.lr, above(0), "peak learning rate");
  v.field("warmup", p.warmup, at_least(0), "linear warmup steps");
  v.choice("lr_schedule", p.lr_schedule, kLrSchedules,
           "after the warmup: cosine (decay to train.min_lr_ratio over the rest of the phase) "
           "or wsd (warmup-stable-decay: the lr held, then a cosine decay over the last "
           "decay_fraction of the phase)");
  v.field("decay_fraction", p.decay_fraction, between(0, 1, "(]"),
          "wsd only: the share of the phase's steps that decays");
  v.field("clip", p.clip, at_least(0, "0 disables clipping"), "max global gradient norm");
  v.field("min_difficulty", p.min_difficulty, at_least(0, "0: the data section's"),
          "least difficulty this phase trains on (a curriculum); within the data range");
  v.field("max_difficulty", p.max_difficulty, at_least(0, "0: the data section's"),
          "greatest difficulty this phase trains on; within the data range");
  v.section("loops", p.loops, "the loop-count sampler");
  v.section("jacobian_penalty", p.jacobian_penalty,
            "the Jacobian spectral-radius penalty at the final loop state", "reg");
  v.section("exit_gate", p.exit_gate, "training the exit gate (models with model.exit_gate)");
  v.section("until", p.until, "a goal that ends the phase early");
}

template <typename V>
void fields(V& v, TrainConfig& t) {
  v.field("batch", t.batch, at_least(1),
          "problems (or text windows) per micro-batch, over all ranks (the global batch)");
  v.field("accumulation", t.accumulation, between(1, 4096, "[]"),
          "micro-batches per optimizer step (gradient accumulation), each with its own loop "
          "count; their gradients are those of the token-weighted mean over all of them");
  v.field("weight_decay", t.weight_decay, at_least(0), "AdamW weight decay");
  v.field("adam_beta1", t.adam_beta1, between(0, 1, "[)"), "AdamW β1");
  v.field("adam_beta2", t.adam_beta2, between(0, 1, "[)"), "AdamW β2");
  v.field("min_lr_ratio", t.min_lr_ratio, between(0, 1, "[]"),
          "the decay's floor (cosine or wsd) as a fraction of the phase's lr");
  v.field("seed", t.seed, Range{}, "seeds data, loop counts and initialisation");
  v.field("log_every", t.log_every, at_least(1), "steps per logged window");
  v.field("eval_every", t.eval_every, at_least(0, "0: only at phase ends"),
          "steps between held-out checks (each phase's end is checked too)");
  v.field("eval_n", t.eval_n, at_least(1), "held-out problems per periodic check");
  v.field("checkpoint_every", t.checkpoint_every, at_least(0, "0: only at the end"),
          "steps between checkpoints");
  v.field("keep_checkpoints", t.keep_checkpoints, at_least(1), "newest step checkpoints kept");
  v.field("max_bad_steps", t.max_bad_steps, at_least(1),
          "consecutive non-finite steps (skipped) before the run stops");
  v.field("device", t.device, Words{{"auto", "cpu", "cuda"}}, "where to train");
  v.field("precision", t.precision, Words{{"fp32", "tf32", "bf16"}},
          "matrix products: fp32; tf32 (CUDA only); bf16 (linear layers' products in "
          "bfloat16, everything else float32; on the CPU only with native bf16)");
  v.field("adamw", t.adamw, Words{{"auto", "loop", "foreach", "fused"}},
          "the AdamW update's kernel: loop (per parameter), foreach (multi-tensor operations), "
          "fused (one CUDA kernel, LibTorch >= 2.0); auto: fused on CUDA where available, "
          "else foreach on CUDA, loop on the CPU");
  v.field("threads", t.threads, at_least(0, "0: LibTorch default"), "LibTorch threads");
  v.field("batch_shards", t.batch_shards, at_least(0, "0: one per LibTorch thread"),
          "concurrent shards of each step's rows, gradients summed in shard order; at most "
          "batch");
  v.field("recompute_loops", t.recompute_loops, Flag{},
          "gradient checkpointing: each loop keeps only its input state and recomputes its "
          "activations in the backward pass (memory of one state per loop instead of every "
          "layer's activations, for about one more forward pass of the core)");
  v.field("dist_backend", t.dist_backend, Words{{"auto", "gloo", "nccl"}},
          "c10d backend of data-parallel runs (auto: nccl on CUDA when built with it)");
  v.field("dist_timeout_s", t.dist_timeout_s, at_least(1),
          "seconds a rank waits on a peer before stopping with an error");
}

template <typename V>
void fields(V& v, DataConfig& d) {
  v.field("task", d.task, AnyText{},
          "task: addition, multiplication, multi_add, chain, pointer, list_end, list_end_mixed, "
          "text (byte-level language modelling on train_file), or chat (JSONL conversations "
          "in train_file, tokenized with data.tokenizer, loss on the assistant's tokens)");
  v.field("digits", d.digits, between(1, 9, "[]"), "operand digits");
  v.field("min_difficulty", d.min_difficulty, at_least(0, "0: the task's default"),
          "least difficulty drawn for training");
  v.field("max_difficulty", d.max_difficulty, at_least(0, "0: the task's default"),
          "greatest difficulty drawn for training");
  v.field("train_file", d.train_file, AnyText{},
          "JSONL problems to train on (empty: generate from the task); for text: the UTF-8 "
          "text file; for chat: the JSONL conversations");
  v.field("valid_file", d.valid_file, AnyText{},
          "text and chat: the validation file; empty: the end of train_file");
  v.field("valid_fraction", d.valid_fraction, between(0, 0.5, "(]"),
          "text and chat: share of train_file held out for validation when valid_file is "
          "empty");
  v.field("seq_len", d.seq_len, at_least(2),
          "text: bytes per training window; chat: tokens per conversation (the rest is cut); "
          "at most model.max_len");
  v.field("tokenizer", d.tokenizer, AnyText{},
          "chat only: a byte-level BPE tokenizer.json, or a model directory with one (or with "
          "vocab.json and merges.txt)");
  v.field("system", d.system, AnyText{},
          "chat only: a system message put first in conversations that have none");
}

template <typename V>
void fields(V& v, EvalConfig& e) {
  v.field("depths", e.depths, AnyText{}, "depths of the final sweep, e.g. 1..8,16,64");
  v.field("monitor_depths", e.monitor_depths, at_least(0),
          "depths of the periodic held-out check: a list, or a depth spec as for depths");
  v.field("n", e.n, at_least(1), "held-out problems of the final sweep");
  v.field("seed", e.seed, Range{}, "seed of the held-out problems (differs from train.seed)");
  v.field("batch", e.batch, at_least(1), "decoding batch");
}

/// The top-level sections (the phase list is walked by each visitor's phases()).
template <typename V>
void fields(V& v, Config& c) {
  v.section("model", c.model, "the LoopLM's shape");
  v.section("data", c.data, "what to train on");
  v.section("train", c.train, "the optimiser and the run");
  v.phases("phases", c.phases, "training phases, in order");
  v.section("eval", c.eval, "held-out evaluation");
}

}  // namespace stars::config_fields
