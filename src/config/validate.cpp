// Range checks for a parsed Config. Each failure names the key path and the bad value.
#include <sstream>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"

namespace stars {
namespace {

template <typename T>
void require(bool ok, const std::string& path, T value, const std::string& rule) {
  if (ok) return;
  std::ostringstream msg;
  msg << path << " = " << value << " is out of range: " << rule;
  throw ConfigError(msg.str());
}

void validate_model(const ModelConfig& m) {
  require(m.d_model > 0, "model.d_model", m.d_model, "must be > 0");
  require(m.n_heads > 0, "model.n_heads", m.n_heads, "must be > 0");
  require(m.d_model % std::max(1, m.n_heads) == 0, "model.n_heads", m.n_heads,
          "must divide model.d_model = " + std::to_string(m.d_model));
  require(m.d_ff > 0, "model.d_ff", m.d_ff, "must be > 0");
  require(m.n_core_layers > 0, "model.n_core_layers", m.n_core_layers, "must be >= 1");
  require(m.n_prelude_layers >= 0, "model.n_prelude_layers", m.n_prelude_layers, "must be >= 0");
  require(m.n_coda_layers >= 0, "model.n_coda_layers", m.n_coda_layers, "must be >= 0");
  require(m.dropout >= 0 && m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)");
  require(m.max_len > 0, "model.max_len", m.max_len, "must be > 0");
  require(m.init_std > 0 && m.init_std <= 1, "model.init_std", m.init_std, "must be in (0, 1]");
}

void validate_loops(const LoopsConfig& l, const std::string& at) {
  require(l.n >= 0, at + ".n", l.n, "must be >= 0");
  require(l.min >= 0, at + ".min", l.min, "must be >= 0");
  require(l.max >= l.min, at + ".max", l.max,
          "must be >= " + at + ".min = " + std::to_string(l.min));
  require(l.sigma > 0, at + ".sigma", l.sigma, "must be > 0");
  require(l.lambda > 0 && l.lambda <= 500, at + ".lambda", l.lambda, "must be in (0, 500]");
  require(l.backprop_depth >= 0, at + ".backprop_depth", l.backprop_depth,
          "must be >= 0 (0 backpropagates through every loop)");
}

void validate_reg(const RegConfig& g, const std::string& at) {
  require(g.weight >= 0 && g.weight < 1, at + ".weight", g.weight, "must be in [0, 1)");
  require(g.start_step >= 0, at + ".start_step", g.start_step, "must be >= 0");
  require(g.iters >= 1, at + ".iters", g.iters, "must be >= 1");
  require(g.target >= 0, at + ".target", g.target, "must be >= 0");
}

void validate_until(const UntilConfig& u, const std::string& at) {
  require(u.accuracy >= 0 && u.accuracy <= 1, at + ".accuracy", u.accuracy,
          "must be in [0, 1] (0: the phase runs all its steps)");
  require(u.depth >= 0, at + ".depth", u.depth, "must be >= 0");
  require(u.every >= 1, at + ".every", u.every, "must be >= 1");
  require(u.n >= 1, at + ".n", u.n, "must be >= 1");
}

void validate_phase(const PhaseConfig& p, const std::string& at) {
  require(p.steps > 0, at + ".steps", p.steps, "must be > 0");
  require(p.lr > 0, at + ".lr", p.lr, "must be > 0");
  require(p.warmup >= 0, at + ".warmup", p.warmup, "must be >= 0");
  require(p.clip >= 0, at + ".clip", p.clip, "must be >= 0 (0 disables clipping)");
  validate_loops(p.loops, at + ".loops");
  validate_reg(p.reg, at + ".reg");
  validate_until(p.until, at + ".until");
}

void validate_train(const TrainConfig& t) {
  require(t.batch > 0, "train.batch", t.batch, "must be > 0");
  require(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "must be >= 0");
  require(t.adam_beta1 >= 0 && t.adam_beta1 < 1, "train.adam_beta1", t.adam_beta1,
          "must be in [0, 1)");
  require(t.adam_beta2 >= 0 && t.adam_beta2 < 1, "train.adam_beta2", t.adam_beta2,
          "must be in [0, 1)");
  require(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio", t.min_lr_ratio,
          "must be in [0, 1]");
  require(t.log_every > 0, "train.log_every", t.log_every, "must be > 0");
  require(t.eval_every >= 0, "train.eval_every", t.eval_every, "must be >= 0 (0: never)");
  require(t.eval_n > 0, "train.eval_n", t.eval_n, "must be > 0");
  require(t.checkpoint_every >= 0, "train.checkpoint_every", t.checkpoint_every,
          "must be >= 0 (0: only at the end)");
  require(t.max_bad_steps >= 1, "train.max_bad_steps", t.max_bad_steps, "must be >= 1");
  require(t.keep_checkpoints >= 1, "train.keep_checkpoints", t.keep_checkpoints, "must be >= 1");
  require(t.device == "auto" || t.device == "cpu" || t.device == "cuda", "train.device",
          '"' + t.device + '"', "valid: auto, cpu, cuda");
  require(t.threads >= 0, "train.threads", t.threads, "must be >= 0 (0: LibTorch default)");
  require(t.batch_shards >= 0 && t.batch_shards <= t.batch, "train.batch_shards", t.batch_shards,
          "must be in [0, train.batch] (0: one per LibTorch thread)");
  require(t.dist_backend == "auto" || t.dist_backend == "gloo" || t.dist_backend == "nccl",
          "train.dist_backend", '"' + t.dist_backend + '"', "valid: auto, gloo, nccl");
  require(t.dist_timeout_s >= 1, "train.dist_timeout_s", t.dist_timeout_s, "must be >= 1");
}

}  // namespace

void validate(const Config& c) {
  validate_model(c.model);
  require(c.data.digits >= 1 && c.data.digits <= 9, "data.digits", c.data.digits,
          "must be in [1, 9]");
  require(c.data.min_difficulty >= 0, "data.min_difficulty", c.data.min_difficulty,
          "must be >= 0 (0: the task's default)");
  require(c.data.max_difficulty >= 0, "data.max_difficulty", c.data.max_difficulty,
          "must be >= 0 (0: the task's default)");
  validate_train(c.train);
  require(c.train.batch_shards <= 1 || c.model.dropout == 0, "train.batch_shards",
          c.train.batch_shards,
          "must be 0 or 1 with model.dropout > 0 (concurrent shards would interleave dropout's "
          "random draws, so runs would not repeat)");
  for (std::size_t i = 0; i < c.phases.size(); ++i)
    validate_phase(c.phases[i], "phases." + std::to_string(i));
  require(c.eval.n > 0, "eval.n", c.eval.n, "must be > 0");
  require(c.eval.batch > 0, "eval.batch", c.eval.batch, "must be > 0");
  for (int d : c.eval.monitor_depths)
    require(d >= 0, "eval.monitor_depths", d, "each depth must be >= 0");
}

}  // namespace stars
