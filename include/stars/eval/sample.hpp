#pragma once
// Sampling text from a trained LoopLM at a chosen depth: temperature, top-k and a seed.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stars/data/tokenizer.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

struct SampleOptions {
  int n_loops = 4;
  int max_new_tokens = 200;
  double temperature = 0.8;  // 0: greedy (the most likely token every time)
  int top_k = 0;             // > 0: draw only among the k most likely tokens
  std::uint64_t seed = 0;    // the same seed, model and prompt give the same text
  double exit_tol = 0;       // > 0: adaptive exit (see ForwardOptions::exit_tol)
  TokenExit token_exit;      // per-token exit (see ForwardOptions::token_exit)
  bool stop_at_eos = true;
};

struct Sample {
  std::string text;               // the continuation, without the prompt
  std::vector<std::int64_t> ids;  // its tokens (pad and eos included, which text drops)
  double mean_loops = 0;          // loops run per generated token
  int tokens = 0;                 // tokens generated
};

/// Continues `prompt` token by token with a key/value cache. When the sequence reaches
/// model.max_len positions, the context is cut to its last half and re-encoded, so samples
/// can be longer than the positions the model learned.
Sample sample_text(LoopLM& model, const Tokenizer& tok, const std::string& prompt,
                   const SampleOptions& opts, torch::Device device);

/// As sample_text, continuing token ids and stopping at `eos_id` (a chat model's end of
/// turn); the result's text is left empty for the caller's tokenizer to fill.
Sample sample_ids(LoopLM& model, std::vector<std::int64_t> prompt, std::int64_t eos_id,
                  const SampleOptions& opts, torch::Device device);

}  // namespace stars
