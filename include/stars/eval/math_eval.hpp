#pragma once
// Maths problems answered by a chat model at each depth: the problem rendered as a ChatML
// prompt, greedy decoding to the end of the assistant's turn (or a token limit), the answer
// extracted from the text and compared with the reference (math_answer.hpp).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json_fwd.hpp>

#include "stars/eval/math_answer.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

class BpeTokenizer;

struct MathEvalOptions {
  std::vector<int> depths;
  int max_new_tokens = 512;  // also capped by model.max_len minus the prompt
  int batch = 16;            // problems decoded together (grouped by prompt length)
  double exit_tol = 0;       // > 0: adaptive exit (see ForwardOptions::exit_tol)
  TokenExit token_exit;      // per-token exit (see ForwardOptions::token_exit)
  ChatTemplate chat;         // its system turn, if any
};

struct MathDepthResult {
  int depth = 0;
  int correct = 0, n = 0;
  double mean_loops = 0;   // loops run per generated token
  double mean_tokens = 0;  // tokens generated per problem (the end of turn included)
  int unfinished = 0;      // problems that reached the token limit before the end of turn
  double accuracy() const { return n > 0 ? static_cast<double>(correct) / n : 0.0; }
};

/// One problem's answer at one depth.
struct MathPrediction {
  int depth = 0;
  std::size_t problem = 0;  // index into the problem list
  std::string text;         // the generated turn, without the end-of-turn token
  std::string answer;       // what extract_answer found in it ("" when nothing)
  bool correct = false;
};

struct MathSweep {
  std::vector<MathDepthResult> rows;        // one per depth, in opts.depths order
  std::vector<MathPrediction> predictions;  // every (depth, problem)
};

/// Answers `problems` at each depth. A prompt that leaves no room to answer within
/// model.max_len is a DataError naming the problem and the lengths.
MathSweep math_depth_sweep(LoopLM& model, const BpeTokenizer& tok,
                           const std::vector<MathProblem>& problems, const MathEvalOptions& opts,
                           torch::Device device,
                           const std::function<void(std::size_t, std::size_t)>& progress = {});

/// {"depth", "accuracy", "correct", "n", "mean_loops", "mean_tokens", "unfinished"}.
nlohmann::json to_json(const MathDepthResult& r);
/// One JSONL object per prediction, with the problem's reference answer.
std::string predictions_jsonl(const MathSweep& sweep, const std::vector<MathProblem>& problems);
std::string to_csv(const std::vector<MathDepthResult>& rows);
std::string to_table(const std::vector<MathDepthResult>& rows);

}  // namespace stars
