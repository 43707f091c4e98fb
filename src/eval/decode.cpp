#include "stars/eval/decode.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include <torch/torch.h>

#include "depth_tree.hpp"
#include "stars/data/batch.hpp"

namespace stars {
namespace {

/// Logits of the last position for `tokens` (with the cache: only the new tokens), and the
/// loops each sequence ran.
std::pair<torch::Tensor, torch::Tensor> next_logits(LoopLM& model, const torch::Tensor& tokens,
                                                    const DecodeOptions& opts, DecodeCache* cache) {
  ForwardOptions fwd;
  fwd.n_loops = opts.n_loops;
  fwd.cache = cache;
  fwd.exit_tol = opts.exit_tol;
  fwd.token_exit = opts.token_exit;
  auto out = model->forward(tokens, fwd);
  auto loops = out.token_loops.defined() ? out.token_loops.select(1, -1)
               : out.loops_used.defined()
                   ? out.loops_used
                   : torch::full({tokens.size(0)}, opts.n_loops, tokens.options());
  return {out.logits.select(1, -1), loops};  // (B, V), (B)
}

}  // namespace

Decoded greedy_decode(LoopLM& model, const torch::Tensor& prompts, const Tokenizer& tok,
                      const DecodeOptions& opts, const torch::Tensor& left_pad) {
  return greedy_decode(model, prompts, tok.eos_id(), opts, left_pad);
}

Decoded greedy_decode(LoopLM& model, const torch::Tensor& prompts, std::int64_t eos_id,
                      const DecodeOptions& opts, const torch::Tensor& left_pad) {
  if (left_pad.defined() && !opts.use_cache)
    throw std::invalid_argument("greedy_decode: left padding needs the cache (use_cache)");
  torch::NoGradGuard no_grad;
  DecodeCache cache;
  cache.left_pad = left_pad;
  DecodeCache* c = opts.use_cache ? &cache : nullptr;
  Decoded result;
  auto seq = prompts;
  auto done = torch::zeros({prompts.size(0)}, prompts.options().dtype(torch::kBool));
  auto [logits, loops] = next_logits(model, prompts, opts, c);
  std::vector<torch::Tensor> generated;
  for (int i = 0; i < opts.max_new_tokens; ++i) {
    const auto live = done.logical_not();
    result.loop_sum += loops.masked_select(live).sum().item<double>();
    result.loop_count += live.sum().item<std::int64_t>();
    auto next = logits.argmax(-1);  // (B)
    next = torch::where(done, torch::full_like(next, eos_id), next);
    done = done.logical_or(next == eos_id);
    generated.push_back(next);
    if (i + 1 == opts.max_new_tokens || done.all().item<bool>()) break;
    seq = torch::cat({seq, next.unsqueeze(1)}, 1);
    std::tie(logits, loops) = next_logits(model, c ? next.unsqueeze(1) : seq, opts, c);
  }
  auto out = torch::stack(generated, 1);  // (B, n_generated)
  if (out.size(1) < opts.max_new_tokens)
    out = torch::cat(
        {out, torch::full({out.size(0), opts.max_new_tokens - out.size(1)}, eos_id, out.options())},
        1);
  result.tokens = out;
  return result;
}

Decoded greedy_decode_batch(LoopLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                            const Tokenizer& tok, const DecodeOptions& opts, torch::Device device) {
  return greedy_decode_batch(model, prompts, tok.eos_id(), tok.pad_id(), opts, device);
}

Decoded greedy_decode_batch(LoopLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                            std::int64_t eos_id, std::int64_t pad_id, const DecodeOptions& opts,
                            torch::Device device) {
  if (prompts.empty()) throw std::invalid_argument("greedy_decode_batch: no prompts");
  std::size_t longest = 0;
  for (const auto& p : prompts) {
    if (p.empty()) throw std::invalid_argument("greedy_decode_batch: an empty prompt");
    longest = std::max(longest, p.size());
  }
  const auto B = static_cast<std::int64_t>(prompts.size());
  auto tokens = torch::full({B, static_cast<std::int64_t>(longest)}, pad_id, torch::kLong);
  auto pad = torch::empty({B}, torch::kLong);
  for (std::int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<std::size_t>(b)];
    const auto n_pad = static_cast<std::int64_t>(longest - p.size());
    tokens[b]
        .narrow(0, n_pad, static_cast<std::int64_t>(p.size()))
        .copy_(torch::tensor(p, torch::kLong));
    pad[b] = n_pad;
  }
  DecodeOptions cached = opts;
  cached.use_cache = true;
  return greedy_decode(model, tokens.to(device), eos_id, cached, pad.to(device));
}

namespace {

/// Calls fn(indices, prompts) for batches of at most `batch_size` examples of one prompt
/// length each.
void for_each_prompt_batch(
    const std::vector<Example>& examples, const Tokenizer& tok, int batch_size,
    torch::Device device,
    const std::function<void(const std::vector<std::size_t>&, const torch::Tensor&)>& fn) {
  std::map<std::size_t, std::vector<std::size_t>> by_length;  // prompt length -> indices
  for (std::size_t i = 0; i < examples.size(); ++i)
    by_length[examples[i].prompt.size()].push_back(i);
  const auto step = static_cast<std::size_t>(batch_size);
  for (const auto& [len, idx] : by_length) {
    (void)len;
    for (std::size_t s = 0; s < idx.size(); s += step) {
      const std::vector<std::size_t> chunk(
          idx.begin() + static_cast<std::ptrdiff_t>(s),
          idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), s + step)));
      std::vector<Example> part;
      for (auto i : chunk) part.push_back(examples[i]);
      fn(chunk, make_prompts(part, tok, device));
    }
  }
}

/// Writes the decoded rows of `tokens` (B, n) as the texts of the examples in `chunk`.
void store_texts(const torch::Tensor& tokens, const std::vector<std::size_t>& chunk,
                 const Tokenizer& tok, std::vector<std::string>& texts) {
  const auto out = tokens.cpu().contiguous();
  for (std::size_t r = 0; r < chunk.size(); ++r) {
    const auto* row = out[static_cast<std::int64_t>(r)].data_ptr<std::int64_t>();
    texts[chunk[r]] = tok.decode(std::vector<std::int64_t>(row, row + out.size(1)));
  }
}

}  // namespace

Answers decode_answers(LoopLM& model, const std::vector<Example>& examples, const Tokenizer& tok,
                       const DecodeOptions& opts, int batch_size, torch::Device device) {
  Answers answers;
  answers.texts.resize(examples.size());
  double loop_sum = 0;
  std::int64_t loop_count = 0;
  for_each_prompt_batch(examples, tok, batch_size, device, [&](const auto& chunk, const auto& p) {
    const Decoded d = greedy_decode(model, p, tok, opts);
    loop_sum += d.loop_sum;
    loop_count += d.loop_count;
    store_texts(d.tokens, chunk, tok, answers.texts);
  });
  answers.mean_loops = loop_count ? loop_sum / static_cast<double>(loop_count) : 0.0;
  return answers;
}

bool can_share_depths(const LoopLM& model, const DecodeOptions& opts) {
  // Coda layers would need a cache per depth, and adaptive exit chooses its own depths.
  return opts.use_cache && opts.exit_tol == 0 && !opts.token_exit.on() &&
         model->config().n_coda_layers == 0;
}

std::vector<torch::Tensor> greedy_decode_depths(LoopLM& model, const torch::Tensor& prompts,
                                                const Tokenizer& tok,
                                                const std::vector<int>& depths,
                                                int max_new_tokens) {
  torch::NoGradGuard no_grad;
  std::vector<int> sorted = depths;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const torch::Tensor all = detail::DepthTree(model, tok, sorted).decode(prompts, max_new_tokens);
  std::vector<torch::Tensor> result;
  for (int d : depths) {
    const auto slot = std::lower_bound(sorted.begin(), sorted.end(), d) - sorted.begin();
    result.push_back(all[slot].to(prompts.device()));
  }
  return result;
}

std::vector<Answers> decode_answers_at_depths(LoopLM& model, const std::vector<Example>& examples,
                                              const Tokenizer& tok, const std::vector<int>& depths,
                                              const DecodeOptions& opts, int batch_size,
                                              torch::Device device) {
  std::vector<Answers> answers(depths.size());
  for (auto& a : answers) a.texts.resize(examples.size());
  for_each_prompt_batch(examples, tok, batch_size, device, [&](const auto& chunk, const auto& p) {
    const auto tokens = greedy_decode_depths(model, p, tok, depths, opts.max_new_tokens);
    for (std::size_t i = 0; i < depths.size(); ++i)
      store_texts(tokens[i], chunk, tok, answers[i].texts);
  });
  return answers;
}

double score_answers(const std::vector<Example>& examples, const std::vector<std::string>& texts) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < examples.size(); ++i)
    correct += answer_matches(texts[i], examples[i].answer);
  return examples.empty() ? 0.0
                          : static_cast<double>(correct) / static_cast<double>(examples.size());
}

double exact_match_accuracy(LoopLM& model, const std::vector<Example>& examples,
                            const Tokenizer& tok, const DecodeOptions& opts, int batch_size,
                            torch::Device device) {
  return score_answers(examples,
                       decode_answers(model, examples, tok, opts, batch_size, device).texts);
}

}  // namespace stars
