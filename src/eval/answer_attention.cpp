#include "stars/eval/answer_attention.hpp"

#include <stdexcept>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace stars {
namespace {

/// A (n) or (n, m) double tensor as JSON numbers, nested likewise.
nlohmann::json to_json_array(const torch::Tensor& t) {
  if (t.dim() == 1)
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  nlohmann::json rows = nlohmann::json::array();
  for (std::int64_t i = 0; i < t.size(0); ++i) rows.push_back(to_json_array(t[i]));
  return rows;
}

/// The records of one problem: its loops, each with one row per core layer.
void record_problem(LoopLM& model, const Example& ex, const Tokenizer& tok, int depth,
                    torch::Device device, ProbedQueries queries, const nlohmann::json& base,
                    std::vector<nlohmann::json>& out) {
  const std::string text = ex.prompt + " ";  // the position after it emits the first digit
  const auto ids = tok.encode(text);
  const auto tokens = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device);
  nlohmann::json keys = nlohmann::json::array();
  for (char c : text) keys.push_back(std::string(1, c));
  const torch::Tensor e = model->embed(tokens);
  torch::Tensor h = e;
  for (int loop = 1; loop <= depth; ++loop) {
    AttentionProbe probe(queries);
    h = model->core_step(h, e);
    for (std::size_t layer = 0; layer < probe.rows().size(); ++layer) {
      // (H, T), or (H, T, T) for every query
      const auto w = probe.rows()[layer][0].to(torch::kDouble).contiguous();
      nlohmann::json weights = nlohmann::json::array();
      for (std::int64_t head = 0; head < w.size(0); ++head)
        weights.push_back(to_json_array(w[head]));
      nlohmann::json r = base;
      r.update({{"loop", loop}, {"layer", layer}, {"tokens", keys}, {"weights", weights}});
      out.push_back(std::move(r));
    }
  }
}

}  // namespace

std::vector<nlohmann::json> answer_attention_records(
    LoopLM& model, const std::vector<Example>& problems, const Tokenizer& tok, int depth,
    torch::Device device, const std::vector<int>& difficulties, ProbedQueries queries) {
  if (depth < 1) throw std::invalid_argument("answer_attention_records: depth must be >= 1");
  if (!difficulties.empty() && difficulties.size() != problems.size())
    throw std::invalid_argument("answer_attention_records: one difficulty per problem");
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<nlohmann::json> out;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    nlohmann::json base{{"prompt", problems[i].prompt},
                        {"target", problems[i].answer},
                        {"queries", queries == ProbedQueries::all ? "all" : "last"}};
    if (!difficulties.empty()) base["difficulty"] = difficulties[i];
    record_problem(model, problems[i], tok, depth, device, queries, base, out);
  }
  return out;
}

}  // namespace stars
