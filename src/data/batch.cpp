#include "stars/data/batch.hpp"

#include <algorithm>

#include "stars/config/errors.hpp"

namespace stars {

Batch make_batch(const std::vector<Example>& examples, const Tokenizer& tok, torch::Device device) {
  std::vector<std::vector<std::int64_t>> seqs;
  std::vector<std::size_t> prompt_lens;
  std::size_t longest = 0;
  for (const auto& ex : examples) {
    auto ids = tok.encode(ex.prompt);
    prompt_lens.push_back(ids.size());
    auto target = tok.encode(target_text(ex));
    ids.insert(ids.end(), target.begin(), target.end());
    ids.push_back(tok.eos_id());
    longest = std::max(longest, ids.size());
    seqs.push_back(std::move(ids));
  }
  const auto B = static_cast<std::int64_t>(seqs.size());
  const auto T = static_cast<std::int64_t>(longest) - 1;
  auto inputs = torch::full({B, T}, tok.pad_id(), torch::kLong);
  auto targets = torch::full({B, T}, kIgnoreIndex, torch::kLong);
  auto in = inputs.accessor<std::int64_t, 2>();
  auto tg = targets.accessor<std::int64_t, 2>();
  for (std::int64_t b = 0; b < B; ++b) {
    const auto& s = seqs[static_cast<std::size_t>(b)];
    const auto first_target = static_cast<std::int64_t>(prompt_lens[static_cast<std::size_t>(b)]);
    for (std::int64_t t = 0; t + 1 < static_cast<std::int64_t>(s.size()); ++t) {
      in[b][t] = s[static_cast<std::size_t>(t)];
      if (t + 1 >= first_target) tg[b][t] = s[static_cast<std::size_t>(t + 1)];
    }
  }
  return {inputs.to(device), targets.to(device)};
}

torch::Tensor make_prompts(const std::vector<Example>& examples, const Tokenizer& tok,
                           torch::Device device) {
  std::vector<std::int64_t> flat;
  std::size_t len = 0;
  for (const auto& ex : examples) {
    auto ids = tok.encode(ex.prompt + " ");
    if (len == 0) len = ids.size();
    if (ids.size() != len)
      throw DataError("make_prompts: prompts of different lengths in one batch");
    flat.insert(flat.end(), ids.begin(), ids.end());
  }
  return torch::tensor(flat, torch::kLong)
      .view({static_cast<std::int64_t>(examples.size()), static_cast<std::int64_t>(len)})
      .to(device);
}

}  // namespace stars
