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

Example Task::sample(Rng& rng, DifficultyRange range) const {
  if (range.lo == range.hi) return sample_at(rng, range.lo);
  return sample_at(rng, static_cast<int>(rng.uniform_int(range.lo, range.hi)));
}

std::vector<Example> Task::sample_batch(int n, std::uint64_t seed, std::uint64_t step,
                                        DifficultyRange range) const {
  Rng rng(seed, step, RngStream::data);
  std::vector<Example> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(sample(rng, range));
  return out;
}

std::vector<Example> Task::sample_batch_at(int n, int d, std::uint64_t seed) const {
  Rng rng(seed, static_cast<std::uint64_t>(d), RngStream::eval);
  std::vector<Example> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(sample_at(rng, d));
  return out;
}

namespace {

/// A uniformly drawn number with exactly `digits` digits (0..9 for one digit).
std::int64_t draw_number(Rng& rng, int digits) {
  std::int64_t lo = 1;
  for (int i = 1; i < digits; ++i) lo *= 10;
  const std::int64_t hi = lo * 10 - 1;
  return rng.uniform_int(digits == 1 ? 0 : lo, hi);
}

/// The pattern of a number with exactly `digits` digits, as draw_number writes it.
std::string number_pattern(int digits) {
  return digits == 1 ? "[0-9]" : "[1-9][0-9]{" + std::to_string(digits - 1) + "}";
}

}  // namespace

std::string AdditionTask::prompt_pattern(int digits) const {
  return number_pattern(digits) + "\\+" + number_pattern(digits) + "=";
}

std::string MultiplicationTask::prompt_pattern(int m) const {
  return number_pattern(n_) + "\\*" + number_pattern(m) + "=";
}

std::string MultiAddTask::prompt_pattern(int k) const {
  return number_pattern(n_) + "(\\+" + number_pattern(n_) + "){" + std::to_string(k - 1) + "}=";
}

std::string ChainTask::prompt_pattern(int k) const {
  const int pad = prompt_width() - (2 * k + 2);
  return " {" + std::to_string(pad) + "}[0-9]([+][0-9]|[*][1379]){" + std::to_string(k) + "}=";
}

std::string PointerTask::prompt_pattern(int k) const {
  return "[0-9]{10}\\+[0-9]\\*" + std::string(k < 10 ? "0" : "") + std::to_string(k) + "=";
}

std::string ListEndTask::prompt_pattern(int) const {
  return "[0-9]{10}\\+[0-9]=";  // the hop count is not in the prompt
}

Example AdditionTask::sample_at(Rng& rng, int digits) const {
  const std::int64_t a = draw_number(rng, digits), b = draw_number(rng, digits);
  return {std::to_string(a) + "+" + std::to_string(b) + "=", std::to_string(a + b)};
}

int AdditionTask::sequence_length(int digits) const {
  // "a+b=" + " " + (digits + 1) answer digits + eos
  return 2 * digits + 2 + 1 + digits + 1 + 1;
}

Example MultiplicationTask::sample_at(Rng& rng, int m) const {
  const std::int64_t a = draw_number(rng, n_), b = draw_number(rng, m);
  return {std::to_string(a) + "*" + std::to_string(b) + "=", std::to_string(a * b)};
}

int MultiplicationTask::sequence_length(int m) const {
  return n_ + m + 2 + 1 + n_ + m + 1;
}

Example MultiAddTask::sample_at(Rng& rng, int k) const {
  std::string prompt;
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) {
    const std::int64_t x = draw_number(rng, n_);
    prompt += (i ? "+" : "") + std::to_string(x);
    sum += x;
  }
  return {prompt + "=", std::to_string(sum)};
}

int MultiAddTask::answer_length(int k) const {
  int carry_digits = 0;  // k operands below 10^n sum below k * 10^n
  for (int x = k - 1; x > 0; x /= 10) ++carry_digits;
  return n_ + carry_digits;
}

int MultiAddTask::sequence_length(int k) const {
  return k * (n_ + 1) + 1 + answer_length(k) + 1;  // operands, '+'s and '=', " ", answer, eos
}

Example PointerTask::sample_at(Rng& rng, int k) const {
  std::string table = "0123456789";
  for (int i = 9; i > 0; --i)  // Fisher-Yates: a uniform random permutation
    std::swap(table[static_cast<std::size_t>(i)],
              table[static_cast<std::size_t>(rng.uniform_int(0, i))]);
  const int start = static_cast<int>(rng.uniform_int(0, 9));
  int x = start;
  for (int s = 0; s < k; ++s) x = table[static_cast<std::size_t>(x)] - '0';
  const std::string steps = (k < 10 ? "0" : "") + std::to_string(k);
  return {table + "+" + std::to_string(start) + "*" + steps + "=", std::to_string(x)};
}

Example ListEndTask::sample_at(Rng& rng, int k) const {
  std::string order = "0123456789";
  for (int i = 9; i > 0; --i)  // Fisher-Yates: which nodes lie where on the lists
    std::swap(order[static_cast<std::size_t>(i)],
              order[static_cast<std::size_t>(rng.uniform_int(0, i))]);
  std::string table(10, '?');
  // A list over order[from..last]: each node points to the next, the last to itself.
  auto link = [&](std::size_t from, std::size_t last) {
    for (std::size_t i = from; i < last; ++i)
      table[static_cast<std::size_t>(order[i] - '0')] = order[i + 1];
    table[static_cast<std::size_t>(order[last] - '0')] = order[last];
  };
  const auto end = static_cast<std::size_t>(k);
  link(0, end);  // x's list: order[0] -> ... -> order[k]
  // The other nodes, order[k + 1..9]: one list, or (mixed) 1 to 3 lists cut at random.
  std::vector<std::size_t> lasts{9};
  if (mixed_rest_) {
    const int rest = 9 - k;
    const int lists = static_cast<int>(rng.uniform_int(1, std::min(3, rest)));
    std::vector<std::size_t> cuts;  // last nodes of all but the final list, distinct
    while (static_cast<int>(cuts.size()) < lists - 1) {
      const auto c = end + static_cast<std::size_t>(rng.uniform_int(1, rest - 1));
      if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
    }
    std::sort(cuts.begin(), cuts.end());
    lasts.insert(lasts.begin(), cuts.begin(), cuts.end());
  }
  std::size_t from = end + 1;
  for (std::size_t last : lasts) {
    link(from, last);
    from = last + 1;
  }
  return {table + "+" + order[0] + "=", std::string(1, order[end])};
}

Example ChainTask::sample_at(Rng& rng, int k) const {
  static const char kUnits[] = {'1', '3', '7', '9'};  // invertible multipliers modulo 10
  int value = static_cast<int>(rng.uniform_int(0, 9));
  std::string chain = std::to_string(value);
  for (int s = 0; s < k; ++s) {
    if (rng.uniform_int(0, 1) == 0) {
      const int d = static_cast<int>(rng.uniform_int(0, 9));
      chain += "+" + std::to_string(d);
      value = (value + d) % 10;
    } else {
      const char d = kUnits[rng.uniform_int(0, 3)];
      chain += std::string("*") + d;
      value = (value * (d - '0')) % 10;
    }
  }
  chain += "=";
  if (static_cast<int>(chain.size()) > prompt_width())
    throw ConfigError("chain: " + std::to_string(k) +
                      " steps exceed the padded width, which "
                      "allows " +
                      std::to_string(difficulty_limit()) + " (twice data.max_difficulty)");
  return {std::string(static_cast<std::size_t>(prompt_width()) - chain.size(), ' ') + chain,
          std::to_string(value)};
}

namespace {

using TaskFactory = std::function<std::unique_ptr<Task>(const DataConfig&)>;

/// The configured difficulty range, or the task's default where a bound is 0.
std::pair<int, int> range(const DataConfig& c, int default_min, int default_max) {
  return {c.min_difficulty > 0 ? c.min_difficulty : default_min,
          c.max_difficulty > 0 ? c.max_difficulty : default_max};
}

const std::map<std::string, TaskFactory>& task_table() {
  static const std::map<std::string, TaskFactory> table{
      {"addition",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, c.digits, c.digits);
         return std::make_unique<AdditionTask>(lo, hi);
       }},
      {"multiplication",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, c.digits, c.digits);
         return std::make_unique<MultiplicationTask>(c.digits, lo, hi);
       }},
      {"multi_add",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, 3, 3);
         return std::make_unique<MultiAddTask>(c.digits, lo, hi);
       }},
      {"chain",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, 1, 4);
         return std::make_unique<ChainTask>(lo, hi);
       }},
      {"list_end",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, 1, 4);
         return std::make_unique<ListEndTask>(lo, hi);
       }},
      {"list_end_mixed",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, 1, 4);
         return std::make_unique<ListEndTask>(lo, hi, true);
       }},
      {"pointer",
       [](const DataConfig& c) {
         const auto [lo, hi] = range(c, 1, 4);
         return std::make_unique<PointerTask>(lo, hi);
       }},
  };
  return table;
}

/// The difficulty range must be non-empty and within what the task's format allows.
void check_range(const Task& t) {
  const std::string where = "data.min_difficulty/max_difficulty for task " + t.name();
  if (t.min_difficulty() < 1 || t.max_difficulty() < t.min_difficulty() ||
      t.max_difficulty() > t.training_limit())
    throw ConfigError(where + ": [" + std::to_string(t.min_difficulty()) + ", " +
                      std::to_string(t.max_difficulty()) + "] is not a range within [1, " +
                      std::to_string(t.training_limit()) + "]");
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : task_table()) names.push_back(name);
  return names;
}

std::unique_ptr<Task> make_task(const DataConfig& cfg) {
  auto it = task_table().find(cfg.task);
  if (it != task_table().end()) {
    auto task = it->second(cfg);
    check_range(*task);
    return task;
  }
  std::string valid;
  for (const auto& n : task_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw ConfigError("data.task: unknown task \"" + cfg.task + "\"; valid: " + valid +
                    ", text, chat");
}

}  // namespace stars
