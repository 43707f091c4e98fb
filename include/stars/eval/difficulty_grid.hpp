#pragma once
// Accuracy by (depth, difficulty): does running more loops solve harder problems? Each
// difficulty gets its own fixed problem set; every depth decodes all of them.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json_fwd.hpp>

#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/eval/evaluate.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

struct GridCell {
  int depth = 0;
  int difficulty = 0;
  double accuracy = 0;
  int n = 0;
  std::optional<double> mean_loops;  // with adaptive exit: loops actually run per token
  std::optional<double> loss;        // with answer_loss: teacher-forced nats per answer token
  std::vector<std::string> outputs;  // with keep_outputs: the decoded text per problem
};

/// What a grid table shows in its cells.
enum class GridValue { accuracy, loss };

/// Accuracy at every depth of `opts.depths` for every difficulty, on `n` problems per
/// difficulty from task.sample_batch_at(n, d, seed). `opts.max_new_tokens` and
/// `opts.diagnostics` are ignored: the answer length comes from the task per difficulty.
std::vector<GridCell> difficulty_sweep(
    LoopLM& model, const Task& task, const Tokenizer& tok, const std::vector<int>& difficulties,
    int n, std::uint64_t seed, const SweepOptions& opts, torch::Device device,
    const std::function<void(std::size_t, std::size_t)>& progress = {});

/// One JSON object per (depth, difficulty, problem) of a sweep run with keep_outputs:
/// {"depth", "difficulty", "prompt", "target", "output", "correct"}, the lines of
/// stars-eval --difficulties --predictions. The problems are drawn again from
/// task.sample_batch_at(n, d, seed), as difficulty_sweep drew them.
std::vector<nlohmann::json> grid_prediction_records(const std::vector<GridCell>& cells,
                                                    const Task& task, int n, std::uint64_t seed);

/// {"depth", "difficulty", "accuracy", "n", ["mean_loops"], ["loss"]}.
nlohmann::json to_json(const GridCell& c);
/// CSV, one row per cell, the same columns as the JSON.
std::string grid_to_csv(const std::vector<GridCell>& cells);
/// Terminal table: one row per depth, one column per difficulty, the cells' accuracy or
/// answer loss.
std::string grid_to_table(const std::vector<GridCell>& cells,
                          GridValue value = GridValue::accuracy);

}  // namespace stars
