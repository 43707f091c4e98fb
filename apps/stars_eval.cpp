// stars-eval: accuracy (bits per byte for text models) and latent-dynamics diagnostics of a
// trained LoopLM at each depth.
// Parses flags, loads the checkpoint and data, and hands over to stars::depth_sweep.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/jsonl.hpp"
#include "stars/data/prompt_format.hpp"
#include "stars/data/text.hpp"
#include "stars/eval/answer_attention.hpp"
#include "stars/eval/depth_spec.hpp"
#include "stars/eval/difficulty_grid.hpp"
#include "stars/eval/evaluate.hpp"
#include "stars/eval/math_eval.hpp"
#include "stars/eval/text_eval.hpp"
#include "stars/model/memory_estimate.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/trainer.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

struct Args {
  std::string checkpoint, depths, difficulties, data, task, out_json, out_csv, save_data, text,
      device = "auto";
  int n = 0, seed = -1, digits = 0, batch = 0, threads = 0, diag_n = 64, attention_n = 20;
  std::string predictions, attention, attention_queries = "last", exit, math, tokenizer;
  int max_new_tokens = 512;
  bool diagnostics = false, no_cache = false, no_share_depths = false, loss = false, quiet = false;
  double exit_tol = 0;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out)
    throw stars::ConfigError("cannot write '" + path + "': check that its directory exists");
  out << text;
}

/// --attention: the answer position's (or, --attention-queries all, every position's)
/// attention at every loop up to the deepest depth, for the first --attention-n problems (of
/// each difficulty, when given).
void write_attention(const Args& a, stars::LoadedModel& loaded,
                     const std::vector<stars::Example>& problems,
                     const std::vector<int>& difficulties, const stars::SweepOptions& opts,
                     torch::Device device) {
  const int depth = *std::max_element(opts.depths.begin(), opts.depths.end());
  std::string lines;
  const auto queries =
      a.attention_queries == "all" ? stars::ProbedQueries::all : stars::ProbedQueries::last;
  for (const auto& record :
       stars::answer_attention_records(loaded.model, problems, stars::Tokenizer::arithmetic(),
                                       depth, device, difficulties, queries))
    lines += record.dump() + "\n";
  write_file(a.attention, lines);
}

/// Accuracy by (depth, difficulty) on generated problems of each difficulty.
int run_grid(const Args& a, stars::LoadedModel& loaded, const stars::Task& task,
             const stars::SweepOptions& opts, int n, int seed, torch::Device device) {
  const auto difficulties = stars::parse_depths(a.difficulties);
  for (int d : difficulties)
    if (d < 1 || d > task.difficulty_limit())
      throw stars::ConfigError("--difficulties " + a.difficulties + ": " + std::to_string(d) +
                               " is outside [1, " + std::to_string(task.difficulty_limit()) +
                               "] for task " + task.name());
  spdlog::info("{} (step {}) | {} problems x {} difficulties | {} depths", loaded.path, loaded.step,
               n, difficulties.size(), opts.depths.size());
  const auto cells = stars::difficulty_sweep(
      loaded.model, task, stars::Tokenizer::arithmetic(), difficulties, n,
      static_cast<std::uint64_t>(seed), opts, device,
      [&](std::size_t i, std::size_t total) { spdlog::info("difficulty {}/{} done", i, total); });
  std::cout << "accuracy by depth (rows) and difficulty (columns), " << n
            << " problems per difficulty:\n"
            << stars::grid_to_table(cells);
  if (opts.answer_loss)
    std::cout << "answer loss (nats per token, teacher-forced) by depth and difficulty:\n"
              << stars::grid_to_table(cells, stars::GridValue::loss);
  nlohmann::json j{{"checkpoint", loaded.path},
                   {"step", loaded.step},
                   {"data", {{"task", task.name()}, {"n", n}, {"seed", seed}}},
                   {"exit_tol", a.exit_tol},
                   {"exit", stars::token_exit_name(opts.token_exit)},
                   {"grid", nlohmann::json::array()}};
  for (const auto& c : cells) j["grid"].push_back(stars::to_json(c));
  if (!a.predictions.empty()) {
    std::string lines;
    for (const auto& record :
         stars::grid_prediction_records(cells, task, n, static_cast<std::uint64_t>(seed)))
      lines += record.dump() + "\n";
    write_file(a.predictions, lines);
  }
  if (!a.save_data.empty()) {  // the problem sets, difficulty by difficulty
    std::vector<stars::Example> all;
    for (int d : difficulties) {
      const auto set = task.sample_batch_at(n, d, static_cast<std::uint64_t>(seed));
      all.insert(all.end(), set.begin(), set.end());
    }
    stars::save_jsonl(all, a.save_data);
  }
  if (!a.attention.empty()) {  // the first problems of each difficulty's set
    std::vector<stars::Example> probed;
    std::vector<int> tags;
    for (int d : difficulties) {
      const auto set =
          task.sample_batch_at(std::min(n, a.attention_n), d, static_cast<std::uint64_t>(seed));
      probed.insert(probed.end(), set.begin(), set.end());
      tags.insert(tags.end(), set.size(), d);
    }
    write_attention(a, loaded, probed, tags, opts, device);
  }
  if (!a.out_json.empty()) write_file(a.out_json, j.dump(2) + "\n");
  if (!a.out_csv.empty()) write_file(a.out_csv, stars::grid_to_csv(cells));
  return stars::kExitOk;
}

/// Refuses (exit 2) a sweep whose deepest decoding cannot fit in memory.
void check_memory(const stars::ModelConfig& model, const stars::Task& task,
                  const std::vector<stars::Example>& examples, const stars::SweepOptions& opts,
                  torch::Device device) {
  const stars::Tokenizer tok = stars::Tokenizer::arithmetic();
  std::int64_t seq_len = task.max_sequence_length();
  for (const auto& e : examples)  // problems from a file may be longer than the task's
    seq_len = std::max<std::int64_t>(
        seq_len,
        static_cast<std::int64_t>(tok.encode(e.prompt + stars::target_text(e)).size()) + 1);
  const int deepest = *std::max_element(opts.depths.begin(), opts.depths.end());
  stars::check_decoding_memory(model, opts.batch, seq_len, deepest, opts.use_cache,
                               opts.diagnostics, tok.vocab_size(), opts.token_exit.logits_kept(),
                               device);
}

/// A model evaluated on another task or digit count than it trained on scores near zero;
/// say so before the numbers, so that they are not mistaken for the model's ability.
void warn_if_other_data(const stars::DataConfig& trained, const Args& a) {
  if (!a.task.empty() && a.task != trained.task)
    spdlog::warn(
        "the model was trained on task '{}'; evaluating it on '{}' (--task) measures "
        "transfer, expect near-zero accuracy",
        trained.task, a.task);
  if (a.digits > 0 && a.digits != trained.digits)
    spdlog::warn("the model was trained on {}-digit operands; evaluating on {} digits (--digits)",
                 trained.digits, a.digits);
}

/// Warns when problems from --data are not of the kind the model was trained on.
void warn_outside_training_format(const stars::DataConfig& trained,
                                  const std::vector<stars::Example>& examples) {
  std::vector<std::string> prompts;
  for (const auto& ex : examples) prompts.push_back(ex.prompt);
  const std::string warning = stars::training_format_warning(*stars::make_task(trained), prompts);
  if (!warning.empty()) spdlog::warn("{}", warning);
}

/// Flags that only tasks have; a text or chat model is refused them by name.
void refuse_task_flags(const Args& a, const std::string& kind = "text") {
  const std::pair<bool, const char*> task_only[] = {
      {!a.data.empty(), "--data"},
      {!a.task.empty(), "--task"},
      {a.digits > 0, "--digits"},
      {!a.difficulties.empty(), "--difficulties"},
      {!a.predictions.empty() && kind == "text", "--predictions"},
      {!a.attention.empty(), "--attention"},
      {a.loss, "--loss"},
      {!a.save_data.empty(), "--save-data"}};
  for (const auto& [given, flag] : task_only)
    if (given)
      throw stars::ConfigError(
          std::string(flag) + " applies to task models; this model was trained on " + kind +
          (kind == "text" ? " (evaluate it with --text FILE, or its own validation text)"
                          : " (evaluate it on maths problems with --math FILE)"));
}

/// Exact-match accuracy of a chat model's answers to maths problems (--math FILE) by depth.
int run_chat(const Args& a, stars::LoadedModel& loaded, const stars::SweepOptions& base,
             torch::Device device) {
  refuse_task_flags(a, "chat");
  if (!a.text.empty()) throw stars::ConfigError("--text applies to text models, not chat models");
  if (a.math.empty())
    throw stars::ConfigError(
        "a chat model is evaluated on maths problems: give --math FILE.jsonl (rows "
        "{problem, answer}, {problem, solution} or {question, answer})");
  const std::string tokenizer =
      stars::chat_model_tokenizer(a.checkpoint, loaded.config.data, a.tokenizer);
  if (tokenizer.empty())
    throw stars::ConfigError("no tokenizer beside " + a.checkpoint + "; give --tokenizer PATH");
  const stars::BpeTokenizer tok = stars::BpeTokenizer::load(tokenizer);
  std::vector<stars::MathProblem> problems = stars::load_math_jsonl(a.math);
  if (a.n > 0 && static_cast<std::size_t>(a.n) < problems.size()) problems.resize(a.n);
  stars::MathEvalOptions opts;
  opts.depths = base.depths, opts.batch = base.batch, opts.max_new_tokens = a.max_new_tokens;
  opts.exit_tol = base.exit_tol, opts.token_exit = base.token_exit;
  opts.chat = stars::chat_template_for(tokenizer, loaded.config.data.system);
  std::size_t longest_prompt = 0;
  for (const auto& p : problems)
    longest_prompt = std::max(longest_prompt, stars::chat_prompt(p.prompt, tok, opts.chat).size());
  const std::int64_t seq_len = std::min<std::int64_t>(
      loaded.config.model.max_len, static_cast<std::int64_t>(longest_prompt) + a.max_new_tokens);
  const int deepest = *std::max_element(opts.depths.begin(), opts.depths.end());
  stars::check_decoding_memory(loaded.config.model, opts.batch, seq_len, deepest, true, false,
                               tok.vocab_size(), opts.token_exit.logits_kept(), device);
  spdlog::info("{} (step {}) | {} maths problems from {} | {} | {} depths", loaded.path,
               loaded.step, problems.size(), a.math, tok.describe(), opts.depths.size());
  const auto t0 = std::chrono::steady_clock::now();
  const stars::MathSweep sweep = stars::math_depth_sweep(
      loaded.model, tok, problems, opts, device, [&](std::size_t i, std::size_t total) {
        spdlog::info("depth {} ({}/{}) done, {:.1f}s elapsed", opts.depths[i - 1], i, total,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      });
  std::cout << stars::to_table(sweep.rows);
  nlohmann::json j{{"checkpoint", loaded.path},
                   {"step", loaded.step},
                   {"data", {{"math", a.math}, {"n", problems.size()}, {"tokenizer", tokenizer}}},
                   {"max_new_tokens", a.max_new_tokens},
                   {"exit_tol", a.exit_tol},
                   {"exit", stars::token_exit_name(opts.token_exit)},
                   {"depths", nlohmann::json::array()}};
  for (const auto& r : sweep.rows) j["depths"].push_back(stars::to_json(r));
  if (!a.out_json.empty()) write_file(a.out_json, j.dump(2) + "\n");
  if (!a.out_csv.empty()) write_file(a.out_csv, stars::to_csv(sweep.rows));
  if (!a.predictions.empty()) write_file(a.predictions, stars::predictions_jsonl(sweep, problems));
  return stars::kExitOk;
}

/// Bits per byte by depth on the run's validation text, or on --text FILE.
int run_text(const Args& a, stars::LoadedModel& loaded, const stars::SweepOptions& base,
             torch::Device device) {
  refuse_task_flags(a);
  const stars::Config& cfg = loaded.config;
  std::string text, source;
  if (!a.text.empty()) {
    text = stars::read_text_file(a.text), source = a.text;
  } else {
    const stars::TextCorpus corpus = stars::load_text_corpus(cfg.data);
    text = corpus.valid, source = corpus.valid_source;
  }
  const int n = a.n > 0 ? a.n : cfg.eval.n;
  const stars::Batch windows = stars::text_windows(text, cfg.data.seq_len, n, device);
  spdlog::info("{} (step {}) | {} windows of {} bytes from {} | {} depths", loaded.path,
               loaded.step, windows.inputs.size(0), cfg.data.seq_len, source, base.depths.size());
  const auto rows = stars::text_depth_sweep(loaded.model, windows, base);
  std::cout << stars::to_table(rows);
  nlohmann::json j{
      {"checkpoint", loaded.path},
      {"step", loaded.step},
      {"data",
       {{"text", source}, {"windows", windows.inputs.size(0)}, {"seq_len", cfg.data.seq_len}}},
      {"exit_tol", a.exit_tol},
      {"exit", stars::token_exit_name(base.token_exit)},
      {"depths", nlohmann::json::array()}};
  for (const auto& r : rows) j["depths"].push_back(stars::to_json(r));
  if (!a.out_json.empty()) write_file(a.out_json, j.dump(2) + "\n");
  if (!a.out_csv.empty()) write_file(a.out_csv, stars::to_csv(rows));
  return stars::kExitOk;
}

stars::SweepOptions sweep_options(const Args& a, const stars::Config& cfg) {
  stars::SweepOptions opts;
  opts.depths = stars::parse_depths(a.depths.empty() ? cfg.eval.depths : a.depths);
  opts.batch = a.batch > 0 ? a.batch : cfg.eval.batch;
  opts.use_cache = !a.no_cache;
  opts.share_depths = !a.no_share_depths;
  opts.keep_outputs = !a.predictions.empty();
  opts.answer_loss = a.loss;
  opts.exit_tol = a.exit_tol;
  if (!a.exit.empty()) opts.token_exit = stars::parse_token_exit(a.exit, "--exit");
  opts.diagnostics = a.diagnostics;
  opts.diagnostics_n = a.diag_n;
  return opts;
}

int run(const Args& a) {
  if (a.threads > 0) torch::set_num_threads(a.threads);
  const torch::Device device = stars::resolve_device(a.device);
  stars::LoadedModel loaded = stars::load_model(a.checkpoint, device);
  stars::Config& cfg = loaded.config;
  const int seed = a.seed >= 0 ? a.seed : cfg.eval.seed;
  torch::manual_seed(static_cast<std::uint64_t>(seed));  // power iteration's start vectors
  stars::SweepOptions opts = sweep_options(a, cfg);
  if (stars::is_text_task(cfg.data)) return run_text(a, loaded, opts, device);
  if (stars::is_chat_task(cfg.data) || !a.math.empty()) return run_chat(a, loaded, opts, device);
  if (!a.text.empty())
    throw stars::ConfigError(
        "--text applies to models trained on text; this one was trained "
        "on task '" +
        cfg.data.task + "'");
  warn_if_other_data(cfg.data, a);
  if (!a.task.empty()) cfg.data.task = a.task;
  if (a.digits > 0) cfg.data.digits = a.digits;
  const auto task = stars::make_task(cfg.data);
  const int n = a.n > 0 ? a.n : cfg.eval.n;
  const auto examples = a.data.empty() ? task->sample_batch(n, static_cast<std::uint64_t>(seed), 0)
                                       : stars::load_jsonl(a.data);
  if (!a.data.empty()) warn_outside_training_format(loaded.config.data, examples);
  opts.max_new_tokens = task->max_answer_length() + 1;
  check_memory(loaded.config.model, *task, examples, opts, device);
  if (!a.difficulties.empty()) return run_grid(a, loaded, *task, opts, n, seed, device);
  if (!a.save_data.empty()) stars::save_jsonl(examples, a.save_data);
  spdlog::info("{} (step {}) | {} problems | {} depths", loaded.path, loaded.step, examples.size(),
               opts.depths.size());
  const auto t0 = std::chrono::steady_clock::now();
  bool shared_pass = true;  // the first report after a shared pass covers every depth
  const stars::Tokenizer tok = stars::Tokenizer::arithmetic();
  const auto rows = stars::depth_sweep(
      loaded.model, examples, tok, opts, device, [&](std::size_t i, std::size_t total) {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i == total && total > 1 && shared_pass)
          spdlog::info("all {} depths decoded in one pass, {:.1f}s", total, s);
        else
          spdlog::info("depth {} ({}/{}) done, {:.1f}s elapsed", opts.depths[i - 1], i, total, s);
        shared_pass = false;
      });
  std::cout << stars::to_table(rows);
  nlohmann::json j{
      {"checkpoint", loaded.path},
      {"step", loaded.step},
      {"data", a.data.empty() ? nlohmann::json{{"task", cfg.data.task},
                                               {"digits", cfg.data.digits},
                                               {"n", n},
                                               {"seed", seed}}
                              : nlohmann::json{{"file", a.data}, {"n", examples.size()}}},
      {"exit_tol", a.exit_tol},
      {"exit", stars::token_exit_name(opts.token_exit)},
      {"depths", nlohmann::json::array()}};
  for (const auto& r : rows) j["depths"].push_back(stars::to_json(r));
  if (!a.out_json.empty()) write_file(a.out_json, j.dump(2) + "\n");
  if (!a.out_csv.empty()) write_file(a.out_csv, stars::to_csv(rows));
  if (!a.predictions.empty()) {
    std::string lines;
    for (const auto& record : stars::prediction_records(rows, examples))
      lines += record.dump() + "\n";
    write_file(a.predictions, lines);
  }
  if (!a.attention.empty()) {
    const auto count = std::min(examples.size(), static_cast<std::size_t>(a.attention_n));
    write_attention(a, loaded, {examples.begin(), examples.begin() + count}, {}, opts, device);
  }
  return stars::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate a trained LoopLM at many depths."};
  Args a;
  stars::tool::show_defaults(app);
  app.add_option("--checkpoint", a.checkpoint,
                 "run directory, checkpoint file or .safetensors file")
      ->required();
  app.add_option("--depths", a.depths,
                 "depths: 1..64, 0..100:2, 1,2,4,8 or mixtures (empty: eval.depths)");
  auto* data =
      app.add_option("--data", a.data, "JSONL problems ({num1,num2[,answer]} or {prompt,answer})");
  app.add_option("--task", a.task, "generate problems from this task (empty: the run's)")
      ->excludes(data);
  app.add_option("--digits", a.digits,
                 "operand digits for generated problems (unset: the run's data.digits)")
      ->check(CLI::Range(1, 9))
      ->excludes(data);
  app.add_option("--text", a.text,
                 "text models: a UTF-8 file to score (empty: the run's validation text)")
      ->excludes(data);
  app.add_option("--math", a.math,
                 "chat models: JSONL maths problems (MATH500 {problem, answer}, {problem, "
                 "solution} or GSM8K {question, answer}); exact match of the extracted answer")
      ->excludes(data);
  app.add_option("--tokenizer", a.tokenizer,
                 "chat models: the tokenizer (empty: the one saved beside the checkpoint)");
  app.add_option("--max-new-tokens", a.max_new_tokens,
                 "chat models: tokens generated per answer at most (also capped by model.max_len)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--n", a.n,
                 "number of generated problems, of text windows for text models, or of the first "
                 "--math problems to answer (unset: eval.n; all --math problems)")
      ->check(CLI::Range(1, 100000000))
      ->excludes(data);
  app.add_option("--difficulties", a.difficulties,
                 "accuracy grid over these task difficulties, e.g. 1..16 (n "
                 "problems each)")
      ->excludes(data);
  stars::tool::add_seed_option(app, a.seed, "seed of generated problems (unset: eval.seed)")
      ->excludes(data);
  app.add_option("--out", a.out_json, "write results as JSON");
  app.add_option("--save-data", a.save_data,
                 "write the generated problems as JSONL ({prompt, answer}; --data reads it)")
      ->excludes(data);
  app.add_option("--csv", a.out_csv, "write results as CSV");
  app.add_option("--predictions", a.predictions,
                 "write each problem's answer at each depth as JSONL: {depth, prompt, target, "
                 "output, correct}, with --difficulties also {difficulty}");
  app.add_option("--attention", a.attention,
                 "write the attention weights of the position that emits the answer, at every "
                 "loop up to the deepest depth, as JSONL: {prompt, target, loop, layer, tokens, "
                 "queries, weights[head][position]}, with --difficulties also {difficulty}");
  app.add_option("--attention-queries", a.attention_queries,
                 "whose weights --attention records: last (the answer position) or all (every "
                 "position: weights[head][query][key])")
      ->check(CLI::IsMember({"last", "all"}));
  app.add_option("--attention-n", a.attention_n,
                 "problems (per difficulty with --difficulties) that --attention records")
      ->check(CLI::Range(1, 100000));
  app.add_option("--batch", a.batch, "decoding batch size (unset: eval.batch)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--device", a.device, "auto, cpu or cuda");
  app.add_option("--threads", a.threads, "LibTorch threads (0: LibTorch's default)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--loss", a.loss,
               "also the teacher-forced loss on the answer tokens at each depth (nats per "
               "token; a column of the table, JSON and CSV)");
  app.add_flag("--diagnostics", a.diagnostics,
               "state norm, residual, spectral radius, entropy per depth");
  app.add_option("--diag-n", a.diag_n, "problems used for diagnostics")
      ->check(CLI::Range(1, 1000000));
  auto* exit_tol = stars::tool::add_exit_tol_option(app, a.exit_tol);
  stars::tool::add_token_exit_option(app, a.exit, exit_tol);
  app.add_flag("--no-cache", a.no_cache, "recompute the prefix for every token (no KV cache)");
  app.add_flag("--no-share-depths", a.no_share_depths,
               "decode each depth on its own instead of all depths in one pass that shares the "
               "loops of depths whose answers agree (same results, slower)");
  stars::tool::add_quiet_flag(app, a.quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-eval", argc, argv)) return *code;
  return stars::run_cli("stars-eval", [&] {
    stars::tool::apply_quiet(a.quiet);
    return run(a);
  });
}
