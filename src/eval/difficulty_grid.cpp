#include "stars/eval/difficulty_grid.hpp"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace stars {

std::vector<GridCell> difficulty_sweep(
    LoopLM& model, const Task& task, const Tokenizer& tok, const std::vector<int>& difficulties,
    int n, std::uint64_t seed, const SweepOptions& opts, torch::Device device,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<GridCell> cells;
  for (std::size_t i = 0; i < difficulties.size(); ++i) {
    const int d = difficulties[i];
    const auto problems = task.sample_batch_at(n, d, seed);
    SweepOptions per = opts;
    per.max_new_tokens = task.answer_length(d) + 1;
    per.diagnostics = false;
    for (DepthResult& r : depth_sweep(model, problems, tok, per, device))
      cells.push_back({r.depth, d, r.accuracy, r.n, r.mean_loops, r.loss, std::move(r.outputs)});
    if (progress) progress(i + 1, difficulties.size());
  }
  return cells;
}

std::vector<nlohmann::json> grid_prediction_records(const std::vector<GridCell>& cells,
                                                    const Task& task, int n, std::uint64_t seed) {
  std::vector<nlohmann::json> records;
  std::map<int, std::vector<Example>> problems;  // by difficulty, drawn once
  for (const GridCell& c : cells) {
    auto it = problems.find(c.difficulty);
    if (it == problems.end())
      it = problems.emplace(c.difficulty, task.sample_batch_at(n, c.difficulty, seed)).first;
    DepthResult row;
    row.depth = c.depth;
    row.outputs = c.outputs;
    for (nlohmann::json& record : prediction_records({row}, it->second)) {
      record["difficulty"] = c.difficulty;
      records.push_back(std::move(record));
    }
  }
  return records;
}

nlohmann::json to_json(const GridCell& c) {
  nlohmann::json j{
      {"depth", c.depth}, {"difficulty", c.difficulty}, {"accuracy", c.accuracy}, {"n", c.n}};
  if (c.mean_loops) j["mean_loops"] = *c.mean_loops;
  if (c.loss) j["loss"] = *c.loss;
  return j;
}

std::string grid_to_csv(const std::vector<GridCell>& cells) {
  std::ostringstream out;
  const bool loops = !cells.empty() && cells[0].mean_loops, loss = !cells.empty() && cells[0].loss;
  out << "depth,difficulty,accuracy,n" << (loops ? ",mean_loops" : "") << (loss ? ",loss" : "")
      << "\n";
  for (const auto& c : cells) {
    out << c.depth << "," << c.difficulty << "," << c.accuracy << "," << c.n;
    if (loops) out << "," << *c.mean_loops;
    if (loss) out << "," << *c.loss;
    out << "\n";
  }
  return out.str();
}

std::string grid_to_table(const std::vector<GridCell>& cells, GridValue value) {
  std::set<int> difficulties;
  std::map<int, std::map<int, double>> by_depth;  // depth -> difficulty -> value
  for (const auto& c : cells) {
    difficulties.insert(c.difficulty);
    by_depth[c.depth][c.difficulty] = value == GridValue::loss ? c.loss.value_or(0) : c.accuracy;
  }
  std::ostringstream out;
  char buf[32];
  out << "depth \\ difficulty";
  for (int d : difficulties) {
    std::snprintf(buf, sizeof buf, "%7d", d);
    out << buf;
  }
  out << "\n";
  for (const auto& [depth, row] : by_depth) {
    std::snprintf(buf, sizeof buf, "%18d", depth);
    out << buf;
    for (int d : difficulties) {
      std::snprintf(buf, sizeof buf, "%7.3f", row.count(d) ? row.at(d) : 0.0);
      out << buf;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace stars
