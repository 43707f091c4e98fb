#include "stars/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/batch.hpp"
#include "stars/data/jsonl.hpp"
#include "stars/dist/data_parallel.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/depth_spec.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/jacobian.hpp"
#include "stars/train/loop_sampler.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/sharded_backward.hpp"
#include "stars/util/fault.hpp"

namespace stars {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// Appends one JSON object per line to RUN/metrics.jsonl, flushed at once.
class Trainer::MetricsLog {
 public:
  explicit MetricsLog(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw ConfigError("cannot write metrics file '" + path + "'");
  }
  void write(const nlohmann::json& j) { out_ << j.dump() << "\n" << std::flush; }

 private:
  std::ofstream out_;
};

torch::Device resolve_device(const std::string& name) {
  const bool has_cuda = torch::cuda::is_available();
  if (name == "cuda" && !has_cuda)
    throw ConfigError(
        "device 'cuda' requested but no CUDA device is available; use --device cpu or auto");
  if (name == "cuda" || (name == "auto" && has_cuda)) return torch::Device(torch::kCUDA);
  if (name != "cpu" && name != "auto")
    throw ConfigError("device '" + name + "' is not one of auto, cpu, cuda");
  return torch::Device(torch::kCPU);
}

Trainer::Trainer(Config cfg, TrainerOptions opts, torch::Device device)
    : cfg_(std::move(cfg)), opts_(std::move(opts)), device_(device), tok_(Tokenizer::arithmetic()) {
  validate(cfg_);
  fault::plan();  // a malformed STARS_FAULT is refused before the run directory exists
  if (cfg_.train.threads > 0) torch::set_num_threads(cfg_.train.threads);
  task_ = make_task(cfg_.data);
  if (!cfg_.data.train_file.empty()) train_data_ = load_jsonl(cfg_.data.train_file);
  torch::manual_seed(mix_seed(static_cast<std::uint64_t>(cfg_.train.seed), 0, 0));
  model_ = LoopLM(cfg_.model, tok_.vocab_size());
  model_->to(device_);
  if (!opts_.init_from.empty()) {
    const std::string path = resolve_checkpoint(opts_.init_from);
    load_training_state(path, model_, nullptr, device_);
    spdlog::info("initialised weights from {}", path);
  }
  if (opts_.group && cfg_.train.batch % opts_.group->world_size() != 0)
    throw ConfigError("train.batch = " + std::to_string(cfg_.train.batch) +
                      " is the global batch and must divide evenly over " +
                      std::to_string(opts_.group->world_size()) + " ranks");
  if (!opts_.out_dir.empty()) prepare_run_dir();
  if (opts_.group) sync_from_rank0();
}

bool Trainer::is_rank0() const {
  return !opts_.group || opts_.group->rank() == 0;
}

void Trainer::sync_from_rank0() {
  // Every rank starts from rank 0's weights and step, as DistributedDataParallel does.
  std::vector<torch::Tensor> state = model_->parameters();
  torch::Tensor step = torch::tensor({static_cast<double>(step_)}, torch::kDouble).to(device_);
  state.push_back(step);
  dist::broadcast_from_rank0(*opts_.group, state);
  step_ = static_cast<std::int64_t>(step.item<double>());
}

Trainer::~Trainer() = default;

void Trainer::prepare_run_dir() {
  if (!opts_.resume && !is_rank0()) return;  // rank 0 alone creates and writes the run
  if (opts_.resume) {
    const IntactCheckpoint intact = latest_intact_checkpoint(opts_.out_dir);
    for (const std::string& why : intact.corrupted) spdlog::warn("skipping {}", why);
    const std::string& ckpt = intact.path;
    reset_optimizer();
    step_ = load_training_state(ckpt, model_, optimizer_.get(), device_);
    optimizer_phase_ = phase_at(std::max<std::int64_t>(0, step_ - 1)).index;
    spdlog::info("resuming {} at step {} from {}", opts_.out_dir, step_, ckpt);
    if (!is_rank0()) return;
  } else {
    create_run_dir(opts_.out_dir);
    // The starting weights are checkpointed before config.json appears, so every run
    // directory with a config can be resumed, even one killed before its first step.
    reset_optimizer();
    checkpoint(0, false);
    save_config(cfg_, (fs::path(opts_.out_dir) / "config.json").string());
  }
  metrics_ = std::make_unique<MetricsLog>((fs::path(opts_.out_dir) / "metrics.jsonl").string());
}

Trainer::PhaseAt Trainer::phase_at(std::int64_t step) const {
  std::int64_t start = 0;
  for (std::size_t i = 0; i < cfg_.phases.size(); ++i) {
    if (step < start + cfg_.phases[i].steps || i + 1 == cfg_.phases.size())
      return {&cfg_.phases[i], static_cast<int>(i), start};
    start += cfg_.phases[i].steps;
  }
  return {&cfg_.phases.back(), static_cast<int>(cfg_.phases.size()) - 1, start};
}

double Trainer::learning_rate(const PhaseAt& p, std::int64_t step) const {
  const double s = static_cast<double>(step - p.start);
  const double warmup = p.phase->warmup, total = p.phase->steps;
  if (s < warmup) return p.phase->lr * (s + 1) / warmup;
  const double progress = total > warmup ? (s - warmup) / (total - warmup) : 1.0;
  const double floor = cfg_.train.min_lr_ratio;
  return p.phase->lr * (floor + (1 - floor) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress))));
}

void Trainer::reset_optimizer() {
  // Each phase starts a fresh AdamW, as a new run initialised from the previous weights.
  torch::optim::AdamWOptions o(cfg_.phases.front().lr);
  o.weight_decay(cfg_.train.weight_decay);
  o.betas({cfg_.train.adam_beta1, cfg_.train.adam_beta2});
  optimizer_ = std::make_unique<torch::optim::AdamW>(model_->parameters(), o);
}

namespace {

Batch rows_of(const Batch& b, std::pair<int, int> range) {
  const auto [begin, end] = range;
  return {b.inputs.narrow(0, begin, end - begin), b.targets.narrow(0, begin, end - begin)};
}

double target_tokens(const Batch& b) {
  return (b.targets != kIgnoreIndex).sum().item<double>();
}

/// What the shards of one step (over ranks and threads) share.
struct StepPlan {
  ForwardOptions forward;
  const RegConfig* reg = nullptr;
  bool reg_active = false;
  double global_targets = 0;  // the global batch's target tokens; 0: one shard, no scaling
  int shards_in_step = 1;     // ranks x shards per rank: the penalty is their mean
};

/// One shard's CE (scaled to its share of the global batch's target tokens) mixed with its
/// penalty (scaled to its share of the mean), from power-iteration vector `start`.
ShardLoss shard_loss(LoopLM& model, const Batch& part, const StepPlan& plan,
                     const torch::Tensor& start) {
  const LoopOutput out = model->forward(part.inputs, plan.forward);
  auto ce = torch::nn::functional::cross_entropy(
      out.logits.flatten(0, 1), part.targets.flatten(),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
  if (plan.global_targets > 0) ce = ce * (target_tokens(part) / plan.global_targets);
  ShardLoss sl{ce, ce.item<double>(), 0.0};
  if (!plan.reg_active) return sl;
  auto r = jsrr_penalty(model->state_map(out.input), out.state, *plan.reg, start) /
           static_cast<double>(plan.shards_in_step);
  sl.loss = mix_loss(ce, r, plan.reg->weight);
  sl.reg = r.item<double>();
  return sl;
}

/// Power-iteration start vectors of each shard of `batch`, drawn in shard order from torch's
/// generator (concurrent shards must not draw themselves).
std::vector<torch::Tensor> power_starts(const Batch& batch, int shards, std::int64_t width) {
  std::vector<torch::Tensor> starts;
  const auto rows = static_cast<int>(batch.inputs.size(0));
  for (int k = 0; k < shards; ++k) {
    const auto [begin, end] = dist::shard_range(rows, k, shards);
    starts.push_back(torch::randn({end - begin, batch.inputs.size(1), width},
                                  torch::device(batch.inputs.device())));
  }
  return starts;
}

}  // namespace

int Trainer::shard_count(int rows) const {
  int n = cfg_.train.batch_shards;
  // Automatic sharding where it is exact and reproducible: on the CPU, without dropout
  // (whose draws from the shared generator would interleave between shards).
  if (n == 0) n = device_.is_cpu() && cfg_.model.dropout == 0 ? at::get_num_threads() : 1;
  return std::max(1, std::min(n, rows));
}

std::vector<Example> Trainer::step_examples(std::int64_t step) const {
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  if (train_data_.empty())
    return task_->sample_batch(cfg_.train.batch, seed, static_cast<std::uint64_t>(step));
  Rng rng(seed, static_cast<std::uint64_t>(step), RngStream::data);
  std::vector<Example> examples;
  for (int i = 0; i < cfg_.train.batch; ++i)
    examples.push_back(train_data_[static_cast<std::size_t>(
        rng.uniform_int(0, static_cast<std::int64_t>(train_data_.size()) - 1))]);
  return examples;
}

StepStats Trainer::train_step(std::int64_t step) {
  const PhaseAt p = phase_at(step);
  if (p.index != optimizer_phase_) {
    reset_optimizer();
    optimizer_phase_ = p.index;
  }
  const auto seed = static_cast<std::uint64_t>(cfg_.train.seed);
  torch::manual_seed(mix_seed(seed, static_cast<std::uint64_t>(step),
                              static_cast<std::uint64_t>(RngStream::torch)));
  const Batch global = make_batch(step_examples(step), tok_, device_);

  StepStats st;
  st.loops = sample_loops(p.phase->loops, seed, static_cast<std::uint64_t>(step));
  st.tokens = global.inputs.numel() + global.inputs.size(0);  // whole sequences, as the peer counts
  st.lr = learning_rate(p, step);
  // A rank trains on its rows of the global batch (the same padding as the whole batch),
  // split into shards trained concurrently.
  const int world = opts_.group ? opts_.group->world_size() : 1;
  const Batch batch =
      opts_.group ? rows_of(global, dist::shard_range(cfg_.train.batch, opts_.group->rank(), world))
                  : global;
  const int rows = static_cast<int>(batch.inputs.size(0));
  const int shards = shard_count(rows);
  StepPlan plan;
  plan.forward.n_loops = st.loops;
  plan.forward.backprop_depth = p.phase->loops.backprop_depth;
  plan.reg = &p.phase->reg;
  plan.reg_active = st.reg_active =
      plan.reg->weight > 0 && step - p.start >= plan.reg->start_step && st.loops > 0;
  plan.global_targets = world * shards > 1 ? target_tokens(global) : 0.0;
  plan.shards_in_step = world * shards;
  const auto starts = st.reg_active && shards > 1 ? power_starts(batch, shards, cfg_.model.d_model)
                                                  : std::vector<torch::Tensor>(1);
  auto loss_of = [&](int k) {
    const auto part = shards > 1 ? rows_of(batch, dist::shard_range(rows, k, shards)) : batch;
    return shard_loss(model_, part, plan, starts[static_cast<std::size_t>(shards > 1 ? k : 0)]);
  };
  model_->train();
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(st.lr);
  optimizer_->zero_grad();
  // Gradients for the weights only: the penalty's state leaf would otherwise get one too.
  const ShardSums sums = sharded_backward(shards, loss_of, model_->parameters());
  st.loss = sums.loss, st.ce = sums.ce, st.reg = sums.reg;
  st.stop = stop_flag_ && *stop_flag_;
  if (opts_.group) reduce_step(st);
  const double max_norm =
      p.phase->clip > 0 ? p.phase->clip : std::numeric_limits<double>::infinity();
  st.grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), max_norm);
  if (!std::isfinite(st.loss) || !std::isfinite(st.grad_norm)) {
    optimizer_->zero_grad();  // skip the update; the caller counts and reports it
    return st;
  }
  optimizer_->step();
  return st;
}

void Trainer::reduce_step(StepStats& st) {
  // One all-reduce carries the gradients, the loss parts and the stop flag, so that every
  // rank applies the same update and stops at the same step.
  std::vector<double> extras{st.loss, st.ce, st.reg, st.stop ? 1.0 : 0.0};
  dist::all_reduce_gradients(*opts_.group, model_->parameters(), extras);
  st.loss = extras[0], st.ce = extras[1], st.reg = extras[2], st.stop = extras[3] > 0;
}

DepthAccuracy Trainer::evaluate(const std::vector<int>& depths, int n) {
  return accuracy_on(task_->sample_batch(n, static_cast<std::uint64_t>(cfg_.eval.seed), 0), depths);
}

DepthAccuracy Trainer::accuracy_on(std::vector<Example> examples, const std::vector<int>& depths) {
  const auto n = static_cast<double>(examples.size());
  if (opts_.group) {  // each rank scores its share; the counts are summed
    const auto [begin, end] = dist::shard_range(static_cast<int>(examples.size()),
                                                opts_.group->rank(), opts_.group->world_size());
    examples = std::vector<Example>(examples.begin() + begin, examples.begin() + end);
  }
  model_->eval();
  DecodeOptions dec;
  dec.max_new_tokens = task_->max_answer_length() + 1;
  std::vector<double> correct;
  for (int d : depths) {
    dec.n_loops = d;
    const double acc = examples.empty() ? 0.0
                                        : exact_match_accuracy(model_, examples, tok_, dec,
                                                               cfg_.eval.batch, device_);
    correct.push_back(std::round(acc * static_cast<double>(examples.size())));
  }
  if (opts_.group) {
    torch::Tensor counts = torch::tensor(correct, torch::kDouble).to(device_);
    opts_.group->all_reduce_sum(counts, "all-reduce of evaluation counts");
    counts = counts.cpu();
    for (std::size_t i = 0; i < correct.size(); ++i)
      correct[i] = counts[static_cast<std::int64_t>(i)].item<double>();
  }
  DepthAccuracy acc;
  for (std::size_t i = 0; i < depths.size(); ++i) acc[depths[i]] = correct[i] / n;
  return acc;
}

double Trainer::seconds_in_run() const {
  return std::chrono::duration<double>(Clock::now() - run_start_).count();
}

bool Trainer::phase_goal_reached(const PhaseAt& p) {
  const UntilConfig& until = p.phase->until;
  const std::int64_t into_phase = step_ - p.start;
  if (until.accuracy <= 0 || into_phase % until.every != 0 || into_phase >= p.phase->steps)
    return false;
  // Problems of their own (not the evaluation set), the same at every check and on resume.
  Rng rng(static_cast<std::uint64_t>(cfg_.eval.seed), 0, RngStream::phase_check);
  std::vector<Example> problems;
  for (int i = 0; i < until.n; ++i) problems.push_back(task_->sample(rng));
  last_goal_check_ = accuracy_on(std::move(problems), {until.depth}).at(until.depth);
  spdlog::info("phase {} goal check at step {}: depth {}: {:.3f} (goal {:.3f})", p.phase->name,
               step_, until.depth, last_goal_check_, until.accuracy);
  if (metrics_)
    metrics_->write({{"step", step_},
                     {"phase", p.phase->name},
                     {"goal_check", {{"depth", until.depth}, {"accuracy", last_goal_check_}}},
                     {"seconds", seconds_in_run()}});
  return last_goal_check_ >= until.accuracy;
}

void Trainer::warn_goal_missed(const PhaseAt& p) const {
  const UntilConfig& until = p.phase->until;
  if (until.accuracy <= 0) return;
  spdlog::warn(
      "phase {} ran all {} steps without reaching accuracy {:.3f} at depth {} (last check: {}); "
      "later phases start from a model that may not have learned the task",
      p.phase->name, p.phase->steps, until.accuracy, until.depth,
      last_goal_check_ < 0 ? std::string("none") : fmt::format("{:.3f}", last_goal_check_));
}

std::string not_learned_warning(const DepthAccuracy& final_sweep) {
  if (final_sweep.empty()) return "";
  auto best = final_sweep.begin();
  for (auto it = final_sweep.begin(); it != final_sweep.end(); ++it)
    if (it->second > best->second) best = it;
  if (best->second >= 0.1) return "";
  return fmt::format(
      "the model did not learn the task: its best held-out accuracy is {:.3f} (depth {}), near "
      "chance, so the table above is not a result. Try: a first phase that runs until the task "
      "is learned (phases.0.until.accuracy with a larger phases.0.steps), another seed "
      "(train.seed), or the initialisation scale (model.init_std); docs/experiments.md has "
      "measured recipes",
      best->second, best->first);
}

namespace {

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

nlohmann::json accuracy_json(const DepthAccuracy& acc) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [d, a] : acc) j[std::to_string(d)] = a;
  return j;
}

/// Sums of the per-step stats over a logging window.
struct Window {
  StepStats sum;
  int n = 0, skipped = 0;
  std::int64_t loops = 0;
  void add(const StepStats& s) {
    sum.loss += s.loss, sum.ce += s.ce, sum.reg += s.reg, sum.tokens += s.tokens;
    sum.lr = s.lr, sum.grad_norm += s.grad_norm, loops += s.loops, ++n;
  }
  StepStats total() const {
    StepStats t = sum;
    t.loops = static_cast<int>(loops);
    return t;
  }
};

}  // namespace

void Trainer::log_metrics(std::int64_t step, const StepStats& w, int n, double seconds) {
  const double tok_s = static_cast<double>(w.tokens) / std::max(seconds, 1e-9);
  const PhaseAt p = phase_at(step - 1);
  spdlog::info("step {}/{} [{}] loss {:.4f} ce {:.4f} R {:.4f} loops {:.1f} lr {:.2e} tok/s {:.0f}",
               step, cfg_.total_steps(), p.phase->name, w.loss / n, w.ce / n, w.reg / n,
               static_cast<double>(w.loops) / n, w.lr, tok_s);
  if (metrics_)
    metrics_->write({{"step", step},
                     {"phase", p.phase->name},
                     {"loss", w.loss / n},
                     {"ce", w.ce / n},
                     {"reg", w.reg / n},
                     {"loops", static_cast<double>(w.loops) / n},
                     {"lr", w.lr},
                     {"grad_norm", w.grad_norm / n},
                     {"tokens_per_s", tok_s}});
}

void Trainer::checkpoint(std::int64_t step, bool final) {
  if (opts_.out_dir.empty() || !is_rank0()) return;
  const fs::path dir(opts_.out_dir);
  const std::string path =
      final ? (dir / "model.pt").string() : step_checkpoint_path(opts_.out_dir, step);
  try {
    if (final) {
      save_checkpoint(path, model_, nullptr, step, cfg_);
      export_state_dict(model_, (dir / "state_dict.pt").string());
      return;
    }
    save_checkpoint(path, model_, optimizer_.get(), step, cfg_);
  } catch (const std::exception& e) {
    // A failed write (a full disk, most often) never replaces a good file: the temporary
    // file is dropped and the run stops, pointing at the newest checkpoint that is intact.
    std::error_code ec;
    fs::remove(path + ".tmp", ec);
    throw std::runtime_error(
        "cannot write " + path + ": " + e.what() + "; the newest intact checkpoint is " +
        latest_step_checkpoint(opts_.out_dir) +
        ". Free space, then resume with: stars-train --resume " + opts_.out_dir);
  }
  prune_checkpoints(opts_.out_dir, cfg_.train.keep_checkpoints);
}

void Trainer::monitor(std::int64_t step) {
  const auto acc = evaluate(cfg_.eval.monitor_depths, cfg_.train.eval_n);
  std::string line;
  for (const auto& [d, a] : acc) line += fmt::format(" depth {}: {:.3f}", d, a);
  spdlog::info("held-out accuracy at step {}:{}", step, line);
  if (metrics_) metrics_->write({{"step", step}, {"eval_accuracy", accuracy_json(acc)}});
}

void Trainer::check_finite(const StepStats& st, int& consecutive_bad) const {
  if (std::isfinite(st.loss) && std::isfinite(st.grad_norm)) {
    consecutive_bad = 0;
    return;
  }
  spdlog::warn("step {}: non-finite loss or gradient ({}), update skipped", step_, st.loss);
  if (++consecutive_bad < cfg_.train.max_bad_steps) return;
  const std::string kept = opts_.out_dir.empty() || !is_rank0()
                               ? std::string()
                               : " (" + latest_step_checkpoint(opts_.out_dir) + ")";
  throw std::runtime_error(
      "training diverged: " + std::to_string(consecutive_bad) +
      " consecutive non-finite steps ending at step " + std::to_string(step_) +
      "; the last good checkpoint is kept" + kept +
      ". Likely causes: learning rate too high, no gradient clipping (phases.N.clip), or a loop "
      "tail too long to backpropagate (phases.N.loops.max, phases.N.loops.backprop_depth)");
}

DepthAccuracy Trainer::run() {
  const std::int64_t total = cfg_.total_steps();
  std::int64_t executed = 0;  // steps trained in this process (phases may skip steps)
  const auto start = run_start_ = Clock::now();
  auto window_start = start;
  Window w;
  int consecutive_bad = 0;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  bool stop = false;  // agreed by all ranks inside the step, so they stop together
  while (step_ < total && !stop) {
    const StepStats st = train_step(step_);
    stop = st.stop;
    ++step_, ++executed;
    fault::after_step(step_, opts_.group ? opts_.group->rank() : 0);
    check_finite(st, consecutive_bad);
    if (consecutive_bad == 0) w.add(st);
    if (step_ % cfg_.train.log_every == 0 && w.n > 0) {
      log_metrics(step_, w.total(), w.n, seconds_since(window_start));
      const double per_step = seconds_since(start) / static_cast<double>(executed);
      spdlog::info("  elapsed {} ETA {} (at most)", format_duration(seconds_since(start)),
                   format_duration(per_step * static_cast<double>(total - step_)));
      w = Window{};
      window_start = Clock::now();
    }
    const PhaseAt phase = phase_at(step_ - 1);
    const bool goal_reached = consecutive_bad == 0 && phase_goal_reached(phase);
    if (goal_reached) {
      const std::int64_t next = phase.start + phase.phase->steps;
      spdlog::info("phase {} reached its goal at step {}; skipping to step {}", phase.phase->name,
                   step_, next);
      step_ = next;
      w = Window{};
    }
    const bool phase_end = phase_at(step_).start == step_ || step_ == total;
    if (phase_end && !goal_reached) warn_goal_missed(phase);
    if ((cfg_.train.eval_every > 0 && step_ % cfg_.train.eval_every == 0) || phase_end)
      monitor(step_);
    // Not during a run of skipped steps: the newest checkpoint stays the last good one. A
    // skip is checkpointed at once, so that a resumed run continues after it.
    if (((cfg_.train.checkpoint_every > 0 && step_ % cfg_.train.checkpoint_every == 0) ||
         goal_reached) &&
        consecutive_bad == 0)
      checkpoint(step_, false);
  }
  if (step_ < total) {  // stopped by a signal
    checkpoint(step_, false);
    return {};
  }
  checkpoint(step_, true);
  const double train_seconds = seconds_since(start);
  spdlog::info("training done in {}", format_duration(train_seconds));
  if (!opts_.final_sweep) return {};
  const DepthAccuracy final_sweep = evaluate(parse_depths(cfg_.eval.depths), cfg_.eval.n);
  if (metrics_)
    metrics_->write({{"step", step_},
                     {"final_accuracy", accuracy_json(final_sweep)},
                     {"train_seconds", train_seconds}});
  return final_sweep;
}

}  // namespace stars
