#include "stars/data/prompt_format.hpp"

#include <regex>

#include <fmt/format.h>

#include "stars/data/task.hpp"

namespace stars {
namespace {

std::vector<std::regex> training_patterns(const Task& task) {
  std::vector<std::regex> out;
  for (int d = task.min_difficulty(); d <= task.max_difficulty(); ++d)
    out.emplace_back(task.prompt_pattern(d));
  return out;
}

bool matches_any(const std::vector<std::regex>& patterns, const std::string& prompt) {
  for (const auto& p : patterns)
    if (std::regex_match(prompt, p)) return true;
  return false;
}

/// "addition at difficulty 4, like \"1750+4733=\"" (difficulties as a range where several).
std::string trained_on(const Task& task) {
  const int lo = task.min_difficulty(), hi = task.max_difficulty();
  const std::string range = lo == hi ? std::to_string(lo) : fmt::format("{}..{}", lo, hi);
  const std::string example = task.sample_batch_at(1, hi, 1).front().prompt;
  return fmt::format("{} at difficulty {}, like \"{}\"", task.name(), range, example);
}

}  // namespace

bool in_training_format(const Task& task, const std::string& prompt) {
  return matches_any(training_patterns(task), prompt);
}

std::string training_format_warning(const Task& task, const std::vector<std::string>& prompts) {
  const auto patterns = training_patterns(task);
  std::size_t outside = 0;
  const std::string* first = nullptr;
  for (const auto& prompt : prompts) {
    if (matches_any(patterns, prompt)) continue;
    ++outside;
    if (!first) first = &prompt;
  }
  if (outside == 0) return "";
  return fmt::format(
      "{} of {} prompts (the first: \"{}\") are outside the format this model was trained on "
      "({}): their answers are guesses, not what the model learned",
      outside, prompts.size(), *first, trained_on(task));
}

}  // namespace stars
