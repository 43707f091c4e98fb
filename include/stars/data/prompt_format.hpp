#pragma once
// Whether prompts have the format a task model was trained on (its task, operand sizes and
// difficulty range), so that an answer to a prompt it never saw the like of is not given
// silently: "12+34=" to a model of 4-digit addition is answered, but it is a guess.
#include <string>
#include <vector>

namespace stars {

class Task;

/// True when `prompt` matches the task's prompt pattern at a difficulty of its training range.
bool in_training_format(const Task& task, const std::string& prompt);

/// "" when every prompt is in the training format of `task` (the task the model trained
/// on); else one line: how many are not, the first of them, and what the model was
/// trained on, with an example prompt.
std::string training_format_warning(const Task& task, const std::vector<std::string>& prompts);

}  // namespace stars
