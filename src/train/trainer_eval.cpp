// Held-out evaluation while training: the monitor's accuracy (tasks) or bits per byte
// (text), each phase's goal check on its own difficulty range, and the warning after a
// final sweep that shows the task was not learned.
#include <cmath>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "metrics_log.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/text.hpp"
#include "stars/dist/data_parallel.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/text_eval.hpp"
#include "stars/train/schedule.hpp"
#include "stars/train/trainer.hpp"
#include "stars/util/rng.hpp"

namespace stars {

std::string Trainer::eval_metric() const {
  return corpus_ ? "bits_per_byte" : chat_ ? "bits_per_token" : "accuracy";
}

DepthAccuracy Trainer::evaluate(const std::vector<int>& depths, int n) {
  if (corpus_ || chat_) {  // every rank scores the same rows: they are few and cheap
    SweepOptions opts;
    opts.depths = depths;
    opts.batch = cfg_.eval.batch;
    DepthAccuracy bits;  // per byte of text, or per assistant token of a conversation
    const Batch rows = corpus_ ? text_windows(corpus_->valid, cfg_.data.seq_len, n, device_)
                               : chat_rows(chat_->valid, n, chat_->pad_id, device_);
    for (const TextDepthResult& r : text_depth_sweep(model_, rows, opts))
      bits[r.depth] = r.bits_per_byte;
    return bits;
  }
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
  for (int depth : depths) {
    dec.n_loops = depth;
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

bool Trainer::phase_goal_reached(const PhasePosition& at) {
  const UntilConfig& until = at.phase->until;
  const std::int64_t into_phase = step_ - at.start;
  if (until.accuracy <= 0 || into_phase % until.every != 0 || into_phase >= at.phase->steps)
    return false;
  // Problems of their own (not the evaluation set), the same at every check and on resume.
  Rng rng(static_cast<std::uint64_t>(cfg_.eval.seed), 0, RngStream::phase_check);
  std::vector<Example> problems;
  const DifficultyRange range = phase_difficulty(*at.phase, at.index, *task_);
  for (int i = 0; i < until.n; ++i) problems.push_back(task_->sample(rng, range));
  last_goal_check_ = accuracy_on(std::move(problems), {until.depth}).at(until.depth);
  spdlog::info("phase {} goal check at step {}: depth {}: {:.3f} (goal {:.3f})", at.phase->name,
               step_, until.depth, last_goal_check_, until.accuracy);
  metrics_->write({{"step", step_},
                   {"phase", at.phase->name},
                   {"goal_check", {{"depth", until.depth}, {"accuracy", last_goal_check_}}},
                   {"seconds", seconds_in_run()}});
  return last_goal_check_ >= until.accuracy;
}

void Trainer::warn_goal_missed(const PhasePosition& at) const {
  const UntilConfig& until = at.phase->until;
  if (until.accuracy <= 0) return;
  spdlog::warn(
      "phase {} ran all {} steps without reaching accuracy {:.3f} at depth {} (last check: {}); "
      "later phases start from a model that may not have learned the task",
      at.phase->name, at.phase->steps, until.accuracy, until.depth,
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

void Trainer::monitor(std::int64_t step) {
  const auto acc = evaluate(cfg_.eval.monitor_depths, cfg_.train.eval_n);
  std::string line;
  for (const auto& [depth, value] : acc) line += fmt::format(" depth {}: {:.3f}", depth, value);
  spdlog::info("held-out {} at step {}:{}",
               corpus_ ? "bits per byte"
               : chat_ ? "bits per answer token"
                       : "accuracy",
               step, line);
  metrics_->write({{"step", step}, {"eval_" + eval_metric(), accuracy_json(acc)}});
}

}  // namespace stars
