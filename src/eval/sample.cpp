#include "stars/eval/sample.hpp"

#include <torch/torch.h>

#include "stars/config/errors.hpp"
#include "stars/util/rng.hpp"

namespace stars {
namespace {

/// Index drawn from the distribution softmax(logits / temperature), restricted to the
/// top_k largest; argmax at temperature 0. One uniform draw from `rng` per token, so the
/// draws do not depend on LibTorch's generator.
std::int64_t draw_token(const torch::Tensor& logits, const SampleOptions& opts, Rng& rng) {
  if (opts.temperature <= 0) return logits.argmax().item<std::int64_t>();
  auto scaled = logits.to(torch::kDouble).cpu() / opts.temperature;
  if (opts.top_k > 0 && opts.top_k < scaled.size(0)) {
    const auto kth = std::get<0>(scaled.topk(opts.top_k)).min();
    scaled = torch::where(scaled < kth, torch::full_like(scaled, -INFINITY), scaled);
  }
  const auto cdf = torch::softmax(scaled, 0).cumsum(0);
  const double u = rng.uniform() * cdf[-1].item<double>();
  const auto index = (cdf <= u).sum().item<std::int64_t>();
  return std::min<std::int64_t>(index, cdf.size(0) - 1);
}

}  // namespace

Sample sample_text(LoopLM& model, const Tokenizer& tok, const std::string& prompt,
                   const SampleOptions& opts, torch::Device device) {
  if (prompt.empty())
    throw ConfigError("the prompt is empty; give at least one character to continue");
  Sample out = sample_ids(model, tok.encode(prompt), tok.eos_id(), opts, device);
  out.text = tok.decode(out.ids);
  return out;
}

Sample sample_ids(LoopLM& model, std::vector<std::int64_t> ids, std::int64_t eos_id,
                  const SampleOptions& opts, torch::Device device) {
  if (ids.empty()) throw ConfigError("the prompt is empty; give at least one token to continue");
  torch::NoGradGuard no_grad;
  model->eval();
  const std::int64_t max_len = model->config().max_len;
  if (static_cast<std::int64_t>(ids.size()) >= max_len)  // keep the end of a long prompt
    ids.erase(ids.begin(), ids.end() - max_len / 2);
  Rng rng(opts.seed, 0, RngStream::eval);
  Sample out;
  std::vector<std::int64_t> generated;
  DecodeCache cache;
  ForwardOptions fwd;
  fwd.n_loops = opts.n_loops;
  fwd.exit_tol = opts.exit_tol;
  fwd.token_exit = opts.token_exit;
  fwd.cache = &cache;
  auto feed = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device);
  double loops = 0;
  int forwards = 0;
  for (int i = 0; i < opts.max_new_tokens; ++i) {
    const LoopOutput step = model->forward(feed, fwd);
    loops += step.token_loops.defined()  ? step.token_loops[0][-1].item<double>()
             : step.loops_used.defined() ? step.loops_used.item<double>()
                                         : opts.n_loops;
    ++forwards;
    const std::int64_t next = draw_token(step.logits[0][-1], opts, rng);
    if (opts.stop_at_eos && next == eos_id) break;
    generated.push_back(next);
    ids.push_back(next);
    if (static_cast<std::int64_t>(ids.size()) < max_len) {
      feed = torch::tensor({next}, torch::kLong).view({1, 1}).to(device);
    } else {  // out of learned positions: start again from the last half of the context
      ids.erase(ids.begin(), ids.end() - max_len / 2);
      cache = DecodeCache{};
      feed = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device);
    }
  }
  out.tokens = static_cast<int>(generated.size());
  out.mean_loops = forwards > 0 ? loops / forwards : 0;
  out.ids = std::move(generated);
  return out;
}

}  // namespace stars
