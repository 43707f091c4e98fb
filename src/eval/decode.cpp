#include "stars/eval/decode.hpp"

#include <map>

#include <torch/torch.h>

#include "stars/data/batch.hpp"

namespace stars {
namespace {

/// Logits of the last position for `tokens` (with the cache: only the new tokens).
torch::Tensor next_logits(LoopLM& model, const torch::Tensor& tokens, int n_loops,
                          DecodeCache* cache) {
  ForwardOptions fwd;
  fwd.n_loops = n_loops;
  fwd.cache = cache;
  return model->forward(tokens, fwd).logits.select(1, -1);  // (B, V)
}

}  // namespace

torch::Tensor greedy_decode(LoopLM& model, const torch::Tensor& prompts, const Tokenizer& tok,
                            const DecodeOptions& opts) {
  torch::NoGradGuard no_grad;
  DecodeCache cache;
  DecodeCache* c = opts.use_cache ? &cache : nullptr;
  auto seq = prompts;
  auto done = torch::zeros({prompts.size(0)}, prompts.options().dtype(torch::kBool));
  auto logits = next_logits(model, prompts, opts.n_loops, c);
  std::vector<torch::Tensor> generated;
  for (int i = 0; i < opts.max_new_tokens; ++i) {
    auto next = logits.argmax(-1);  // (B)
    next = torch::where(done, torch::full_like(next, tok.eos_id()), next);
    done = done.logical_or(next == tok.eos_id());
    generated.push_back(next);
    if (i + 1 == opts.max_new_tokens || done.all().item<bool>()) break;
    seq = torch::cat({seq, next.unsqueeze(1)}, 1);
    logits = next_logits(model, c ? next.unsqueeze(1) : seq, opts.n_loops, c);
  }
  auto out = torch::stack(generated, 1);  // (B, n_generated)
  if (out.size(1) < opts.max_new_tokens)
    out = torch::cat({out, torch::full({out.size(0), opts.max_new_tokens - out.size(1)},
                                       tok.eos_id(), out.options())},
                     1);
  return out;
}

std::vector<std::string> decode_answers(LoopLM& model, const std::vector<Example>& examples,
                                        const Tokenizer& tok, const DecodeOptions& opts,
                                        int batch_size, torch::Device device) {
  std::map<std::size_t, std::vector<std::size_t>> by_length;  // prompt length -> indices
  for (std::size_t i = 0; i < examples.size(); ++i)
    by_length[examples[i].prompt.size()].push_back(i);
  std::vector<std::string> answers(examples.size());
  for (const auto& [len, idx] : by_length) {
    (void)len;
    for (std::size_t s = 0; s < idx.size(); s += static_cast<std::size_t>(batch_size)) {
      std::vector<std::size_t> chunk(
          idx.begin() + static_cast<std::ptrdiff_t>(s),
          idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), s + batch_size)));
      std::vector<Example> part;
      for (auto i : chunk) part.push_back(examples[i]);
      auto out = greedy_decode(model, make_prompts(part, tok, device), tok, opts).cpu();
      for (std::size_t r = 0; r < chunk.size(); ++r) {
        auto row = out[static_cast<std::int64_t>(r)];
        answers[chunk[r]] = tok.decode(std::vector<std::int64_t>(
            row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel()));
      }
    }
  }
  return answers;
}

double exact_match_accuracy(LoopLM& model, const std::vector<Example>& examples,
                            const Tokenizer& tok, const DecodeOptions& opts, int batch_size,
                            torch::Device device) {
  auto answers = decode_answers(model, examples, tok, opts, batch_size, device);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < examples.size(); ++i)
    correct += answer_matches(answers[i], examples[i].answer);
  return examples.empty() ? 0.0
                          : static_cast<double>(correct) / static_cast<double>(examples.size());
}

}  // namespace stars
