// The maths answer checker on a table of tricky answers: extraction from solutions,
// normalisation, and matching; problem rows in the MATH500 and GSM8K shapes.
#include <gtest/gtest.h>

#include "stars/config/errors.hpp"
#include "stars/eval/math_answer.hpp"

namespace {

TEST(MathAnswer, ExtractsTheLastBoxedElseTheLastNumber) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"So the answer is $\\boxed{42}$.", "42"},
      {"First \\boxed{1}, then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"},
      {"\\boxed{\\{1, 2\\} \\cup \\{3\\}}", "\\{1, 2\\} \\cup \\{3\\}"},
      {"nested \\boxed{x^{2}+\\sqrt{y_{1}}} end", "x^{2}+\\sqrt{y_{1}}"},
      {"\\fbox{7} is it", "7"},
      {"$\\boxed 5$", "5"},
      {"We get 3 apples, then 12 more: 1,215 in all.", "1,215"},
      {"The temperature fell to -3.5 degrees", "-3.5"},
      {"so the ratio is 3/4.", "3/4"},
      {"no numbers here", ""},
      {"unbalanced \\boxed{12 and 7", "7"},
  };
  for (const auto& [solution, expected] : cases)
    EXPECT_EQ(stars::extract_answer(solution), expected) << solution;
}

TEST(MathAnswer, MatchesEquivalentFormsAndNothingElse) {
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"2.0", "2", true},
      {"2.50", "5/2", true},
      {"\\frac{1}{2}", "0.5", true},
      {"\\dfrac12", "\\frac{1}{2}", true},
      {"\\tfrac{3}{6}", "1/2", true},
      {"-\\frac{3}{4}", "-0.75", true},
      {"1,000", "1000", true},
      {"1,00", "100", false},  // not a thousands grouping
      {" 7 . ", "7", true},
      {"$15$", "15", true},
      {"x = 5", "5", true},
      {"90^\\circ", "90", true},
      {"25\\%", "25", true},
      {"\\text{(A)}", "(A)", true},
      {"10\\text{ cm}", "10cm", true},
      {"\\left(1, 2\\right)", "(1,2)", true},
      {"\\sqrt{2}", "\\sqrt2", false},  // not rewritten: kept apart
      {"3", "4", false},
      {"", "", false},
      {"0.1", "1/10", true},
      {"-0", "0", true},
      {"99999999999999999", "99999999999999999.0", true},
  };
  for (const auto& [a, b, same] : cases)
    EXPECT_EQ(stars::answers_match(a, b), same)
        << a << " vs " << b << ": " << stars::normalize_answer(a) << " / "
        << stars::normalize_answer(b);
}

TEST(MathAnswer, ReadsMath500AndGsm8kRows) {
  auto math =
      stars::parse_math_row(R"({"problem": "Compute $1/2+1/4$.", "answer": "\\frac34"})", "m", 1);
  EXPECT_EQ(math.prompt.size(), 1u);
  EXPECT_EQ(math.prompt[0].content, "Compute $1/2+1/4$.");
  EXPECT_EQ(math.reference, "3/4");
  auto gsm =
      stars::parse_math_row(R"({"question": "How many?", "answer": "5+7=12\n#### 1,200"})", "g", 1);
  EXPECT_EQ(gsm.reference, "1200");
  auto boxed = stars::parse_math_row(R"({"problem": "p", "solution": "so \\boxed{0.50}"})", "s", 1);
  EXPECT_EQ(boxed.reference, "1/2");
  auto numeric = stars::parse_math_row(R"({"problem": "p", "answer": 12})", "n", 1);
  EXPECT_EQ(numeric.reference, "12");
  try {
    stars::parse_math_row(R"({"problem": "p", "solution": "no answer"})", "bad.jsonl", 3);
    FAIL() << "a row without an answer was accepted";
  } catch (const stars::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:3: no reference answer"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(stars::parse_math_row(R"({"answer": "1"})", "bad.jsonl", 4), stars::DataError);
}

}  // namespace
