#pragma once
// Where the answer is read from, loop by loop: the attention weights of the position that
// emits a problem's first answer digit, at every loop of the shared core. For a task whose
// step is a lookup (list_end), they show which prompt token each loop reads, so that one
// can see a learned step being repeated, or not.
#include <vector>

#include <torch/types.h>
#include <nlohmann/json_fwd.hpp>

#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/model/attention_probe.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

/// For each problem, runs its prompt and the answer's leading space (teacher-forced) through
/// `depth` loops and records, at every loop and core layer, the weights with which the last
/// position (the one that emits the first answer digit) attends to each token. One JSON
/// object per (problem, loop, layer): {"prompt", "target", "loop" (1..depth), "layer",
/// "tokens" (the text of each key position), "queries" ("last"), "weights"
/// ([head][position])}, plus "difficulty" when `difficulties` is given (one per problem).
/// With ProbedQueries::all, every position's weights: "queries" "all" and "weights"
/// ([head][query][key], zero beyond the query), so that one sees where the steps are taken.
std::vector<nlohmann::json> answer_attention_records(LoopLM& model,
                                                     const std::vector<Example>& problems,
                                                     const Tokenizer& tok, int depth,
                                                     torch::Device device,
                                                     const std::vector<int>& difficulties = {},
                                                     ProbedQueries queries = ProbedQueries::last);

}  // namespace stars
