#include "stars/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "divergence_guard.hpp"
#include "metrics_log.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/jsonl.hpp"
#include "stars/data/text.hpp"
#include "stars/dist/data_parallel.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/depth_spec.hpp"
#include "stars/eval/text_eval.hpp"
#include "stars/kernels/cpu_gemm.hpp"
#include "stars/model/memory_estimate.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/safetensors_model.hpp"
#include "stars/train/schedule.hpp"
#include "stars/util/cli.hpp"
#include "stars/util/fault.hpp"

namespace stars {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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

namespace {

/// train.precision on `device`; a ConfigError saying why where it cannot run there.
Precision training_precision(const TrainConfig& train, torch::Device device) {
  const Precision p = parse_precision(train.precision.c_str());
  const std::string why = precision_unavailable_reason(p, device.is_cuda());
  if (!why.empty()) throw ConfigError("train.precision = " + train.precision + ": " + why);
  return p;
}

}  // namespace

Trainer::Trainer(Config cfg, TrainerOptions opts, torch::Device device)
    : cfg_(std::move(cfg)),
      opts_(std::move(opts)),
      device_(device),
      tok_(tokenizer_for(cfg_.data)),
      metrics_(std::make_unique<MetricsLog>()) {
  validate(cfg_);
  for (const std::string& warning : config_warnings(cfg_)) spdlog::warn("{}", warning);
  fault::plan();  // a malformed STARS_FAULT is refused before the run directory exists
  precision_.emplace(training_precision(cfg_.train, device_));
  if (cfg_.train.precision != "fp32")
    spdlog::info("matrix products in {} (train.precision)", cfg_.train.precision);
  adamw_kernel_ = resolve_adamw_kernel(cfg_.train.adamw, device_);
  if (cfg_.train.threads > 0) torch::set_num_threads(cfg_.train.threads);
  load_data();
  // Before anything is allocated: a step that cannot fit is refused with a word, not killed.
  check_training_memory(cfg_, longest_sequence(), vocab_size(),
                        opts_.group ? opts_.group->world_size() : 1, device_);
  torch::manual_seed(mix_seed(static_cast<std::uint64_t>(cfg_.train.seed), 0, 0));
  model_ = LoopLM(cfg_.model, vocab_size());
  model_->to(device_);
  if (!opts_.init_from.empty() && is_hf_model_dir(opts_.init_from)) {
    load_hf_weights(opts_.init_from, model_);
    spdlog::info("initialised weights from the Hugging Face model in {}", opts_.init_from);
  } else if (!opts_.init_from.empty()) {
    const std::string path = resolve_checkpoint(opts_.init_from);
    if (is_safetensors_path(path))
      load_weights_safetensors(path, model_);
    else
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

Trainer::~Trainer() = default;

void Trainer::load_data() {
  if (is_text_task(cfg_.data)) {
    corpus_ = std::make_unique<TextCorpus>(load_text_corpus(cfg_.data));
    spdlog::info("text: training on {} bytes ({}), validating on {} bytes ({})",
                 corpus_->train.size(), corpus_->train_source, corpus_->valid.size(),
                 corpus_->valid_source);
    return;
  }
  if (is_chat_task(cfg_.data)) {
    bpe_ = std::make_unique<BpeTokenizer>(load_chat_tokenizer(cfg_.data));
    chat_ = std::make_unique<ChatCorpus>(load_chat_corpus(cfg_.data, *bpe_));
    spdlog::info("chat: {}; training on {} conversations ({}), validating on {} ({})",
                 bpe_->describe(), chat_->train.size(), chat_->train_source, chat_->valid.size(),
                 chat_->valid_source);
    if (chat_->rows_cut > 0)
      spdlog::warn(
          "chat: {} conversations were longer than data.seq_len = {} tokens and lost {} tokens "
          "from their ends ({} kept no assistant token and were dropped); raise data.seq_len "
          "to keep them",
          chat_->rows_cut, cfg_.data.seq_len, chat_->tokens_cut, chat_->rows_dropped);
    return;
  }
  task_ = make_task(cfg_.data);
  for (std::size_t i = 0; i < cfg_.phases.size(); ++i)  // refuses a range outside the data's
    phase_difficulty(cfg_.phases[i], static_cast<int>(i), *task_);
  if (!cfg_.data.train_file.empty()) train_data_ = load_jsonl(cfg_.data.train_file);
}

std::int64_t Trainer::vocab_size() const {
  return bpe_ ? bpe_->vocab_size() : tok_.vocab_size();
}

int Trainer::longest_sequence() const {
  if (corpus_) return cfg_.data.seq_len + 1;
  if (chat_) return cfg_.data.seq_len;
  return train_data_.empty() ? task_->max_sequence_length() : cfg_.model.max_len;
}

bool Trainer::is_rank0() const {
  return rank() == 0;
}

int Trainer::rank() const {
  return opts_.group ? opts_.group->rank() : 0;
}

void Trainer::sync_from_rank0() {
  // Every rank starts from rank 0's weights and step, as DistributedDataParallel does.
  std::vector<torch::Tensor> state = model_->parameters();
  torch::Tensor step = torch::tensor({static_cast<double>(step_)}, torch::kDouble).to(device_);
  state.push_back(step);
  dist::broadcast_from_rank0(*opts_.group, state);
  step_ = static_cast<std::int64_t>(step.item<double>());
}

void Trainer::prepare_run_dir() {
  if (!opts_.resume && !is_rank0()) return;  // rank 0 alone creates and writes the run
  if (opts_.resume) {
    const IntactCheckpoint intact = latest_intact_checkpoint(opts_.out_dir);
    for (const std::string& why : intact.corrupted) spdlog::warn("skipping {}", why);
    reset_optimizer();
    step_ = load_training_state(intact.path, model_, optimizer_.get(), device_,
                                &seconds_before_resume_);
    optimizer_phase_ = phase_at(cfg_.phases, std::max<std::int64_t>(0, step_ - 1)).index;
    spdlog::info("resuming {} at step {} from {}", opts_.out_dir, step_, intact.path);
    if (!is_rank0()) return;
  } else {
    create_run_dir(opts_.out_dir);
    // The starting weights are checkpointed before config.json appears, so every run
    // directory with a config can be resumed, even one killed before its first step.
    reset_optimizer();
    checkpoint(0, false);
    save_config(cfg_, (fs::path(opts_.out_dir) / "config.json").string());
  }
  metrics_->open((fs::path(opts_.out_dir) / "metrics.jsonl").string());
  record_kernels();
  record_data(opts_.out_dir);
}

void Trainer::record_kernels() {
  // GEMM paths and precisions round differently, so runs are compared only with runs on the
  // same kernels; a resume records the kernels it continues on.
  nlohmann::json kernels = {{"device", device_.str()},
                            {"precision", cfg_.train.precision},
                            {"adamw", adamw_kernel_name(adamw_kernel_)},
                            {"threads", torch::get_num_threads()}};
  if (device_.is_cpu()) kernels["cpu_gemm"] = cpu_gemm_name(cpu_gemm());
  metrics_->write({{"step", step_}, {"kernels", kernels}});
}

void Trainer::record_data(const std::string& dir) {
  // The split is part of the run: which bytes (or conversations) trained and which validate.
  if (corpus_)
    metrics_->write({{"step", step_},
                     {"corpus",
                      {{"train", corpus_->train_source},
                       {"train_bytes", corpus_->train.size()},
                       {"valid", corpus_->valid_source},
                       {"valid_bytes", corpus_->valid.size()}}}});
  if (!chat_) return;
  metrics_->write({{"step", step_},
                   {"chat",
                    {{"train", chat_->train_source},
                     {"train_rows", chat_->train.size()},
                     {"valid", chat_->valid_source},
                     {"valid_rows", chat_->valid.size()},
                     {"rows_cut", chat_->rows_cut},
                     {"tokens_cut", chat_->tokens_cut},
                     {"rows_dropped", chat_->rows_dropped},
                     {"tokenizer", cfg_.data.tokenizer}}}});
  copy_tokenizer_files(cfg_.data.tokenizer, dir);
}

void Trainer::reset_optimizer() {
  // Each phase starts a fresh AdamW, as a new run initialised from the previous weights.
  optimizer_ = make_optimizer(model_->parameters(), cfg_.train, cfg_.phases.front().lr);
}

double Trainer::seconds_in_run() const {
  return std::chrono::duration<double>(Clock::now() - run_start_).count();
}

double Trainer::training_seconds() const {
  return seconds_before_resume_ + seconds_in_run();
}

std::string Trainer::last_good_checkpoint() const {
  if (opts_.out_dir.empty() || !is_rank0()) return "";
  return latest_step_checkpoint(opts_.out_dir);
}

void Trainer::checkpoint(std::int64_t step, bool final) {
  if (opts_.out_dir.empty() || !is_rank0()) return;
  const fs::path dir(opts_.out_dir);
  const std::string path =
      final ? (dir / "model.pt").string() : step_checkpoint_path(opts_.out_dir, step);
  try {
    if (final) {
      save_checkpoint(path, model_, nullptr, step, cfg_, training_seconds());
      export_state_dict(model_, (dir / "state_dict.pt").string());
      save_model_safetensors(model_, cfg_, step, (dir / "model.safetensors").string());
      return;
    }
    save_checkpoint(path, model_, optimizer_.get(), step, cfg_, training_seconds());
  } catch (const std::exception& e) {
    // A failed write (a full disk, most often) never replaces a good file: the temporary
    // file is dropped and the run stops, pointing at the newest checkpoint that is intact.
    std::error_code ec;
    fs::remove(path + ".tmp", ec);
    throw std::runtime_error("cannot write " + path + ": " + e.what() +
                             "; the newest intact checkpoint is " + last_good_checkpoint() +
                             ". Free space, then resume with: " + resume_command(opts_.out_dir));
  }
  prune_checkpoints(opts_.out_dir, cfg_.train.keep_checkpoints);
}

void Trainer::monitor_and_checkpoint(const PhasePosition& at, bool goal_reached,
                                     bool step_was_finite) {
  const std::int64_t total = cfg_.total_steps();
  const bool phase_end = phase_at(cfg_.phases, step_).start == step_ || step_ == total;
  if (phase_end && !goal_reached) warn_goal_missed(at);
  const TrainConfig& train = cfg_.train;
  if ((train.eval_every > 0 && step_ % train.eval_every == 0) || phase_end) monitor(step_);
  // Not during a run of skipped steps: the newest checkpoint stays the last good one. A
  // goal skip is checkpointed at once, so that a resumed run continues after it.
  const bool due = train.checkpoint_every > 0 && step_ % train.checkpoint_every == 0;
  if ((due || goal_reached) && step_was_finite) checkpoint(step_, false);
}

DepthAccuracy Trainer::run() {
  const std::int64_t total = cfg_.total_steps();
  std::int64_t steps_run = 0;  // steps trained in this process (goal skips are not run)
  const auto start = run_start_ = Clock::now();
  auto window_start = start;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  StepWindow window;
  DivergenceGuard guard(cfg_.train.max_bad_steps);
  bool stop = false;  // agreed by all ranks inside the step, so they stop together
  while (step_ < total && !stop) {
    const StepStats stats = train_step(step_);
    stop = stats.stop;
    ++step_, ++steps_run;
    fault::after_step(step_, rank());
    guard.record(stats, step_, [this] { return last_good_checkpoint(); });
    if (guard.clean()) window.add(stats);
    const PhasePosition at = phase_at(cfg_.phases, step_ - 1);
    if (step_ % cfg_.train.log_every == 0 && window.steps > 0) {
      metrics_->log_window(step_, total, at.phase->name, window, seconds_since(window_start),
                           steps_run, seconds_since(start));
      window = StepWindow{};
      window_start = Clock::now();
    }
    const bool goal_reached = guard.clean() && phase_goal_reached(at);
    if (goal_reached) {  // the rest of the phase is skipped; later phases keep their steps
      spdlog::info("phase {} reached its goal at step {}; skipping to step {}", at.phase->name,
                   step_, at.end());
      step_ = at.end();
      window = StepWindow{};
    }
    monitor_and_checkpoint(at, goal_reached, guard.clean());
  }
  if (step_ < total) {  // stopped by a signal
    checkpoint(step_, false);
    return {};
  }
  checkpoint(step_, true);
  const double train_seconds = training_seconds();
  spdlog::info("training done in {}", format_duration(train_seconds));
  if (!opts_.final_sweep) return {};
  const DepthAccuracy final_sweep = evaluate(parse_depths(cfg_.eval.depths), cfg_.eval.n);
  metrics_->write({{"step", step_},
                   {"final_" + eval_metric(), accuracy_json(final_sweep)},
                   {"train_seconds", train_seconds}});
  return final_sweep;
}

}  // namespace stars
