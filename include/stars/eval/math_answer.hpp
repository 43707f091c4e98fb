#pragma once
// Free-form maths answers: the answer a solution states, a canonical form, and whether two
// answers agree; problem sets in the MATH500 and GSM8K shapes.
#include <string>
#include <string_view>
#include <vector>

#include "stars/data/chat.hpp"

namespace stars {

/// The answer stated in `solution`: the content of the last \boxed{...} (or \fbox{...}),
/// braces balanced; else the last number ("1,234", "-3.5", "3/4"); "" when there is none.
std::string extract_answer(std::string_view solution);

/// A canonical form: no spaces, "$", "\left"/"\right", "\!", "\text{}" wrappers, degree or
/// percent signs, or trailing "."; \dfrac and \tfrac as \frac, \frac12 as \frac{1}{2}; a
/// leading "x=" dropped; numbers without thousands commas or trailing zeros ("2.50" -> "2.5",
/// "3.0" -> "3"); an integer fraction or decimal as a reduced "p/q" ("0.5", "2/4" and
/// "\frac{1}{2}" -> "1/2").
std::string normalize_answer(std::string_view answer);

/// Whether `predicted` states `reference` (both normalised; empty never matches).
bool answers_match(std::string_view predicted, std::string_view reference);

/// One problem of a maths evaluation set: the question as a conversation, and its answer.
struct MathProblem {
  Conversation prompt;    // the user turn (and a system turn if the row has messages)
  std::string reference;  // normalised
};

/// A row {"problem", "answer"} (MATH500), {"problem", "solution"} (the solution's boxed
/// answer), {"question", "answer": "... #### 72"} (GSM8K), or {"messages", "answer"}; a
/// DataError names `path`:`line_no` and what is missing.
MathProblem parse_math_row(std::string_view line, const std::string& path, int line_no);
std::vector<MathProblem> load_math_jsonl(const std::string& path);

}  // namespace stars
