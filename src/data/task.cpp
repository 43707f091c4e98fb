#include "stars/data/task.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"

namespace stars {

std::string target_text(const Example& ex) {
  return " " + std::string(ex.answer.rbegin(), ex.answer.rend());
}

bool answer_matches(const std::string& decoded, const std::string& answer) {
  std::string digits = decoded;
  if (!digits.empty() && digits.front() == ' ') digits.erase(0, 1);
  auto all_digits = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(digits) || !all_digits(answer)) return digits == answer;
  std::string forward(digits.rbegin(), digits.rend());
  auto strip = [](std::string s) {
    s.erase(0, std::min(s.find_first_not_of('0'), s.size() - 1));
    return s;
  };
  return strip(forward) == strip(answer);
}

std::vector<Example> Task::sample_batch(int n, std::uint64_t seed, std::uint64_t step) const {
  Rng rng(seed, step, RngStream::data);
  std::vector<Example> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(sample(rng));
  return out;
}

AdditionTask::AdditionTask(int digits) : digits_(digits) {}

Example AdditionTask::sample(Rng& rng) const {
  std::int64_t lo = 1, hi = 9;
  for (int i = 1; i < digits_; ++i) lo *= 10;
  hi = lo * 10 - 1;
  if (digits_ == 1) lo = 0;
  const std::int64_t a = rng.uniform_int(lo, hi), b = rng.uniform_int(lo, hi);
  return {std::to_string(a) + "+" + std::to_string(b) + "=", std::to_string(a + b)};
}

int AdditionTask::max_sequence_length() const {
  // "a+b=" + " " + (digits + 1) answer digits + eos
  return 2 * digits_ + 2 + 1 + digits_ + 1 + 1;
}

namespace {

using TaskFactory = std::function<std::unique_ptr<Task>(const DataConfig&)>;

const std::map<std::string, TaskFactory>& task_table() {
  static const std::map<std::string, TaskFactory> table{
      {"addition", [](const DataConfig& c) { return std::make_unique<AdditionTask>(c.digits); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : task_table()) names.push_back(name);
  return names;
}

std::unique_ptr<Task> make_task(const DataConfig& cfg) {
  auto it = task_table().find(cfg.task);
  if (it != task_table().end()) return it->second(cfg);
  std::string valid;
  for (const auto& n : task_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw ConfigError("data.task: unknown task \"" + cfg.task + "\"; valid: " + valid);
}

}  // namespace stars
