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
  double exit_tol = 0;    // > 0: adaptive exit (see ForwardOptions::exit_tol)
  TokenExit token_exit;   // per-token exit (see ForwardOptions::token_exit)
};

struct Decoded {
  torch::Tensor tokens;         // (B, max_new_tokens) int64; after a sequence's eos, eos
  double loop_sum = 0;          // loops run, summed over (sequence, generated token) pairs
  std::int64_t loop_count = 0;  // number of such pairs
};

/// Greedy continuation of `prompts` (B, T). With left_pad (B) int64, row b's first
/// left_pad[b] tokens are padding and the row decodes as its prompt alone would (needs
/// opts.use_cache).
Decoded greedy_decode(LoopLM& model, const torch::Tensor& prompts, const Tokenizer& tok,
                      const DecodeOptions& opts, const torch::Tensor& left_pad = {});
/// As above, with `eos_id` ending a sequence (a chat model's end of turn, say).
Decoded greedy_decode(LoopLM& model, const torch::Tensor& prompts, std::int64_t eos_id,
                      const DecodeOptions& opts, const torch::Tensor& left_pad = {});

/// Greedy continuations of prompts of any lengths in one batch: left-padded to the longest,
/// each row gives the tokens it gives decoded alone (with or without adaptive exit).
Decoded greedy_decode_batch(LoopLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                            const Tokenizer& tok, const DecodeOptions& opts, torch::Device device);
/// As above, with `eos_id` ending a sequence and `pad_id` filling the left padding.
Decoded greedy_decode_batch(LoopLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                            std::int64_t eos_id, std::int64_t pad_id, const DecodeOptions& opts,
                            torch::Device device);

struct Answers {
  std::vector<std::string> texts;  // generated text up to eos, one per example
  double mean_loops = 0;           // loops per generated token
};

/// Decoded answers for `examples` at depth n_loops, batched by prompt length.
Answers decode_answers(LoopLM& model, const std::vector<Example>& examples, const Tokenizer& tok,
                       const DecodeOptions& opts, int batch_size, torch::Device device);

/// Whether greedy_decode_depths can stand in for greedy_decode at each depth: with the cache,
/// without adaptive exit and without coda layers.
bool can_share_depths(const LoopLM& model, const DecodeOptions& opts);

/// Greedy continuations of `prompts` (B, T) at each of `depths` in one pass that shares the
/// loops of the depths whose answers agree so far: one (B, max_new_tokens) tensor per depth,
/// the same tokens greedy_decode gives at that depth, at about the cost of the deepest one.
std::vector<torch::Tensor> greedy_decode_depths(LoopLM& model, const torch::Tensor& prompts,
                                                const Tokenizer& tok,
                                                const std::vector<int>& depths, int max_new_tokens);

/// decode_answers at every depth of `depths` in one pass (greedy_decode_depths); opts gives
/// max_new_tokens, and can_share_depths(model, opts) must hold.
std::vector<Answers> decode_answers_at_depths(LoopLM& model, const std::vector<Example>& examples,
                                              const Tokenizer& tok, const std::vector<int>& depths,
                                              const DecodeOptions& opts, int batch_size,
                                              torch::Device device);

/// Fraction of `texts` that match the examples' answers.
double score_answers(const std::vector<Example>& examples, const std::vector<std::string>& texts);

/// Fraction of `examples` whose decoded answer matches (answer_matches).
double exact_match_accuracy(LoopLM& model, const std::vector<Example>& examples,
                            const Tokenizer& tok, const DecodeOptions& opts, int batch_size,
                            torch::Device device);

}  // namespace stars
