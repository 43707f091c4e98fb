#include "stars/eval/math_eval.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/eval/decode.hpp"

namespace stars {
namespace {

using Prompt = std::vector<std::int64_t>;

/// Problem indices in batches of at most `batch`, shortest prompts first (less padding).
std::vector<std::vector<std::size_t>> length_batches(const std::vector<Prompt>& prompts,
                                                     int batch) {
  std::vector<std::size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return prompts[a].size() < prompts[b].size();
  });
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < order.size(); i += static_cast<std::size_t>(batch))
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(
                                         order.size(), i + static_cast<std::size_t>(batch))));
  return out;
}

std::vector<Prompt> render_prompts(const BpeTokenizer& tok,
                                   const std::vector<MathProblem>& problems,
                                   const ChatTemplate& tmpl, int max_len) {
  std::vector<Prompt> prompts;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    prompts.push_back(chat_prompt(problems[i].prompt, tok, tmpl));
    if (static_cast<int>(prompts.back().size()) >= max_len)
      throw DataError("problem " + std::to_string(i + 1) + ": its prompt is " +
                      std::to_string(prompts.back().size()) +
                      " tokens, which leaves no room to answer within model.max_len = " +
                      std::to_string(max_len) +
                      "; shorten it or use a model with longer positions");
  }
  return prompts;
}

/// Decodes one batch at one depth; adds its predictions and counts to `sweep`'s last row and
/// returns the decoding's loop sum and count (one per live sequence and generated token).
std::pair<double, std::int64_t> answer_batch(LoopLM& model, const BpeTokenizer& tok,
                                             const std::vector<MathProblem>& problems,
                                             const std::vector<Prompt>& prompts,
                                             const std::vector<std::size_t>& batch,
                                             DecodeOptions dec, std::int64_t eos,
                                             torch::Device device, MathSweep& sweep) {
  std::vector<Prompt> part;
  std::size_t longest = 0;
  for (std::size_t i : batch)
    part.push_back(prompts[i]), longest = std::max(longest, prompts[i].size());
  dec.max_new_tokens =
      std::min<int>(dec.max_new_tokens, model->config().max_len - static_cast<int>(longest));
  const Decoded out = greedy_decode_batch(model, part, eos, eos, dec, device);
  const torch::Tensor tokens = out.tokens.cpu().contiguous();
  const auto generated = tokens.accessor<std::int64_t, 2>();
  MathDepthResult& row = sweep.rows.back();
  for (std::size_t r = 0; r < batch.size(); ++r) {
    std::vector<std::int64_t> ids;
    bool ended = false;
    for (std::int64_t t = 0; t < tokens.size(1) && !ended; ++t) {
      const std::int64_t id = generated[static_cast<std::int64_t>(r)][t];
      ended = id == eos;
      if (!ended) ids.push_back(id);
    }
    MathPrediction p;
    p.depth = row.depth;
    p.problem = batch[r];
    p.text = tok.decode(ids);
    p.answer = extract_answer(p.text);
    p.correct = answers_match(p.answer, problems[batch[r]].reference);
    row.correct += p.correct ? 1 : 0;
    row.unfinished += ended ? 0 : 1;
    row.mean_tokens += static_cast<double>(ids.size() + (ended ? 1 : 0));
    sweep.predictions.push_back(std::move(p));
  }
  return {out.loop_sum, out.loop_count};
}

}  // namespace

MathSweep math_depth_sweep(LoopLM& model, const BpeTokenizer& tok,
                           const std::vector<MathProblem>& problems, const MathEvalOptions& opts,
                           torch::Device device,
                           const std::function<void(std::size_t, std::size_t)>& progress) {
  if (problems.empty()) throw DataError("no maths problems to evaluate");
  const std::optional<std::int64_t> eos = tok.id_of("<|im_end|>");
  if (!eos) throw DataError("the tokenizer has no <|im_end|> token, so a chat turn cannot end");
  const std::vector<Prompt> prompts =
      render_prompts(tok, problems, opts.chat, model->config().max_len);
  const auto batches = length_batches(prompts, std::max(1, opts.batch));
  model->eval();
  MathSweep sweep;
  for (std::size_t d = 0; d < opts.depths.size(); ++d) {
    sweep.rows.push_back({});
    MathDepthResult& row = sweep.rows.back();
    row.depth = opts.depths[d];
    row.n = static_cast<int>(problems.size());
    DecodeOptions dec;
    dec.n_loops = row.depth;
    dec.max_new_tokens = opts.max_new_tokens;
    dec.exit_tol = opts.exit_tol;
    dec.token_exit = opts.token_exit;
    double loop_sum = 0, loop_count = 0;
    for (const auto& batch : batches) {
      const auto [sum, count] =
          answer_batch(model, tok, problems, prompts, batch, dec, *eos, device, sweep);
      loop_sum += sum, loop_count += static_cast<double>(count);
    }
    row.mean_loops = loop_count > 0 ? loop_sum / loop_count : 0;
    row.mean_tokens /= static_cast<double>(problems.size());
    if (progress) progress(d + 1, opts.depths.size());
  }
  return sweep;
}

nlohmann::json to_json(const MathDepthResult& r) {
  return {{"depth", r.depth},           {"accuracy", r.accuracy()},
          {"correct", r.correct},       {"n", r.n},
          {"mean_loops", r.mean_loops}, {"mean_tokens", r.mean_tokens},
          {"unfinished", r.unfinished}};
}

std::string predictions_jsonl(const MathSweep& sweep, const std::vector<MathProblem>& problems) {
  std::string out;
  for (const MathPrediction& p : sweep.predictions)
    out += nlohmann::json{{"depth", p.depth},
                          {"problem", p.problem + 1},
                          {"reference", problems[p.problem].reference},
                          {"answer", p.answer},
                          {"correct", p.correct},
                          {"text", p.text}}
               // An untrained model can stop inside a character: such bytes become U+FFFD.
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  return out;
}

std::string to_csv(const std::vector<MathDepthResult>& rows) {
  std::ostringstream out;
  out << "depth,accuracy,correct,n,mean_loops,mean_tokens,unfinished\n";
  for (const auto& r : rows)
    out << r.depth << "," << r.accuracy() << "," << r.correct << "," << r.n << "," << r.mean_loops
        << "," << r.mean_tokens << "," << r.unfinished << "\n";
  return out.str();
}

std::string to_table(const std::vector<MathDepthResult>& rows) {
  std::ostringstream out;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%6s %9s %9s %11s %12s %11s\n", "depth", "accuracy", "correct",
                "mean_loops", "mean_tokens", "unfinished");
  out << buf;
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%6d %9.4f %5d/%-3d %11.2f %12.1f %11d\n", r.depth, r.accuracy(),
                  r.correct, r.n, r.mean_loops, r.mean_tokens, r.unfinished);
    out << buf;
  }
  return out.str();
}

}  // namespace stars
