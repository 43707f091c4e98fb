#pragma once
// Turning problems into padded token tensors for training.
#include <vector>

#include <torch/types.h>

#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"

namespace stars {

/// Label value that cross-entropy ignores (prompt and padding positions).
constexpr std::int64_t kIgnoreIndex = -100;

struct Batch {
  torch::Tensor inputs;   // (B, T) int64: prompt + target, padded on the right
  torch::Tensor targets;  // (B, T) int64: next token on target positions, else kIgnoreIndex
};

/// Sequence = prompt + target_text + eos; inputs are all but its last token, targets are
/// the next tokens, kept only where they belong to the target (the loss sees only answers).
Batch make_batch(const std::vector<Example>& examples, const Tokenizer& tok, torch::Device device);

/// Prompts with the target's leading space, as greedy decoding starts from them: (B, T).
/// All prompts must encode to the same length; callers group them by length.
torch::Tensor make_prompts(const std::vector<Example>& examples, const Tokenizer& tok,
                           torch::Device device);

}  // namespace stars
