#pragma once
// The training loop: phases of (loop sampler, Jacobian penalty, schedule), metrics,
// held-out accuracy, checkpoints and resume. Data flow of one step (train_step.cpp):
//   sampler -> t; the objective (objective.hpp): t loops -> h_t, CE on answers, Jacobian
//   penalty at h_t, mixed loss; backward over shards and ranks; clip; AdamW step.
// Its parts live beside it: schedule.hpp (phases, learning rate, optimiser), metrics_log
// (console and metrics.jsonl), divergence_guard (non-finite steps), run_dir and checkpoint.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/data/batch.hpp"
#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/kernels/precision.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/adamw_update.hpp"

namespace stars::dist {
class Group;
}

namespace stars {

class MetricsLog;
struct PhasePosition;

struct TrainerOptions {
  std::string out_dir;      // run directory to create (or continue with resume)
  bool resume = false;      // continue out_dir from its newest checkpoint
  std::string init_from;    // start from another run's weights (a run dir or checkpoint)
  bool final_sweep = true;  // evaluate accuracy at eval.depths after training
  // Data-parallel membership (null: one process). Every rank builds the same global batch
  // and trains on its shard; gradients are summed so the update equals one process's on
  // the global batch; rank 0 alone writes the run directory.
  dist::Group* group = nullptr;
};

/// What one training step measured.
struct StepStats {
  double loss = 0, ce = 0, penalty = 0, lr = 0, grad_norm = 0;  // penalty: R, the Jacobian penalty
  int loops = 0;                 // the first micro-batch's loop count
  std::vector<int> micro_loops;  // each micro-batch's (train.accumulation of them)
  std::int64_t tokens = 0;
  bool penalty_active = false;  // R was part of this step's loss
  bool stop = false;            // a stop was requested (by a signal) on this or any other rank
};

/// The evaluation metric at each depth: exact match for tasks, validation bits per byte for
/// text (Trainer::eval_metric names it).
using DepthAccuracy = std::map<int, double>;

struct TextCorpus;
struct ChatCorpus;
class BpeTokenizer;

class Trainer {
 public:
  Trainer(Config cfg, TrainerOptions opts, torch::Device device);
  ~Trainer();

  /// Trains every phase from the current step to the end; returns the final sweep.
  DepthAccuracy run();
  /// One optimisation step at global step `step` (exposed for tests and benchmarks).
  StepStats train_step(std::int64_t step);
  /// Held-out exact-match accuracy at each depth on `n` problems from eval.seed; for text,
  /// bits per byte on the first `n` validation windows; for chat, bits per assistant token
  /// on the first `n` validation conversations.
  DepthAccuracy evaluate(const std::vector<int>& depths, int n);
  /// "accuracy", "bits_per_byte" for text, or "bits_per_token" (on the assistant's tokens)
  /// for chat.
  std::string eval_metric() const;
  /// Exact-match accuracy at each depth on `examples` (every rank passes the same list).
  DepthAccuracy accuracy_on(std::vector<Example> examples, const std::vector<int>& depths);

  LoopLM& model() { return model_; }
  std::int64_t step() const { return step_; }
  const Config& config() const { return cfg_; }
  /// Asks the loop to stop after the current step (from a signal handler's flag).
  void set_stop_flag(const volatile int* flag) { stop_flag_ = flag; }

 private:
  bool is_rank0() const;
  int rank() const;
  void sync_from_rank0();
  /// The task (and JSONL problems), for text the corpus, for chat the tokenizer and the
  /// conversations.
  void load_data();
  /// Tokens the model embeds: the tokenizer's for chat, else the character vocabulary's.
  std::int64_t vocab_size() const;
  /// The longest sequence a training step feeds the model (for the memory check).
  int longest_sequence() const;
  /// What a run directory records of the data: the text or chat split, and for chat the
  /// tokenizer (copied beside config.json, so the run can be evaluated on its own).
  void record_data(const std::string& dir);
  /// The kernels this start or resume trains on (device, precision, threads, CPU GEMM).
  void record_kernels();
  void prepare_run_dir();
  void reset_optimizer();
  /// Clips the summed gradients and applies the AdamW update, unless the step diverged.
  void apply_update(const PhasePosition& at, StepStats& stats);
  /// Sums the gradients of `trained` and the step's loss parts and stop flag over the ranks.
  void reduce_step(StepStats& stats, const std::vector<torch::Tensor>& trained);
  /// The weights `phase` trains: all, or the exit gate's alone in the gate-only stage (the
  /// others' gradients are then cleared, so the optimizer leaves them as they are).
  std::vector<torch::Tensor> trained_parameters(const PhaseConfig& phase);
  /// A global micro-batch's problems at `step`, from data stream `stream` (one per
  /// micro-batch): generated, or drawn from data.train_file.
  std::vector<Example> step_examples(std::int64_t step, std::uint64_t stream) const;
  /// The difficulties of the problems of data stream `stream` (loop_sampler.hpp:
  /// step_difficulty), inside phase `at`'s range.
  DifficultyRange step_range(const PhasePosition& at, std::uint64_t stream) const;
  /// A global micro-batch at `step` from data stream `stream`: the problems as tokens,
  /// windows of the training text, or conversations.
  Batch step_batch(std::int64_t step, std::uint64_t stream) const;
  /// Concurrent shards of a step's `rows` (train.batch_shards; 0 resolved here).
  int shard_count(int rows) const;
  /// Checks the `until` goal of the phase `at` at its cadence; true when it is reached.
  bool phase_goal_reached(const PhasePosition& at);
  /// Warns when a phase with an `until` goal ends at its step limit without reaching it.
  void warn_goal_missed(const PhasePosition& at) const;
  /// After a step of phase `at`: held-out accuracy at its cadence and at phase ends,
  /// and a checkpoint at its cadence or after a goal skip (not after a diverged step).
  void monitor_and_checkpoint(const PhasePosition& at, bool goal_reached, bool step_was_finite);
  void monitor(std::int64_t step);
  void checkpoint(std::int64_t step, bool final);
  /// The newest step checkpoint of this run, for messages ("" without a run directory).
  std::string last_good_checkpoint() const;
  /// Seconds since this process started training (run() began).
  double seconds_in_run() const;
  /// The run's training time: this process's, plus what the checkpoint it resumed from
  /// recorded (so a resumed run reports its whole time, less the steps it redid).
  double training_seconds() const;

  Config cfg_;
  TrainerOptions opts_;
  torch::Device device_;
  std::optional<PrecisionScope> precision_;  // train.precision while this trainer lives
  Tokenizer tok_;
  std::unique_ptr<Task> task_;
  std::vector<Example> train_data_;     // from data.train_file, else empty (generated)
  std::unique_ptr<TextCorpus> corpus_;  // task "text" only (then task_ is null)
  std::unique_ptr<BpeTokenizer> bpe_;   // task "chat" only (then task_ is null)
  std::unique_ptr<ChatCorpus> chat_;    // task "chat" only
  LoopLM model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  AdamWKernel adamw_kernel_ = AdamWKernel::loop;  // train.adamw on device_
  std::int64_t step_ = 0;
  int optimizer_phase_ = -1;
  double last_goal_check_ = -1;  // accuracy at the latest `until` check (-1: none yet)
  std::chrono::steady_clock::time_point run_start_ = std::chrono::steady_clock::now();
  double seconds_before_resume_ = 0;  // training time recorded by the resumed checkpoint
  const volatile int* stop_flag_ = nullptr;
  std::unique_ptr<MetricsLog> metrics_;
};

/// A plain warning when the final sweep shows that the model did not learn the task (its
/// best accuracy is below 10%), naming what to try; empty otherwise.
std::string not_learned_warning(const DepthAccuracy& final_sweep);

/// "auto" -> CUDA when available, else CPU; "cuda" without a GPU is a ConfigError.
torch::Device resolve_device(const std::string& name);

}  // namespace stars
