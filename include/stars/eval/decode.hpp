#pragma once
// Batched greedy decoding of answers at a given loop depth, and exact-match accuracy.
#include <string>
#include <vector>

#include <torch/types.h>

#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

struct DecodeOptions {
  int n_loops = 4;
  int max_new_tokens = 6;
  bool use_cache = true;  // one key/value cache per loop: each new token costs t block calls
};

/// Greedy continuation of `prompts` (B, T): (B, max_new_tokens) int64 token ids; positions
/// after a sequence's eos hold eos.
torch::Tensor greedy_decode(LoopLM& model, const torch::Tensor& prompts, const Tokenizer& tok,
                            const DecodeOptions& opts);

/// Decoded answer texts (the generated text up to eos) for `examples` at depth n_loops,
/// batched by prompt length.
std::vector<std::string> decode_answers(LoopLM& model, const std::vector<Example>& examples,
                                        const Tokenizer& tok, const DecodeOptions& opts,
                                        int batch_size, torch::Device device);

/// Fraction of `examples` whose decoded answer matches (answer_matches).
double exact_match_accuracy(LoopLM& model, const std::vector<Example>& examples,
                            const Tokenizer& tok, const DecodeOptions& opts, int batch_size,
                            torch::Device device);

}  // namespace stars
