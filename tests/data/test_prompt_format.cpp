// The training format of task models: every generated prompt matches its task's pattern at
// its difficulty, and prompts of other sizes, tasks or difficulties are caught.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stars/config/config.hpp"
#include "stars/data/prompt_format.hpp"
#include "stars/data/task.hpp"

namespace stars {
namespace {

std::unique_ptr<Task> task(const std::string& name, int digits, int lo = 0, int hi = 0) {
  DataConfig c;
  c.task = name;
  c.digits = digits;
  c.min_difficulty = lo;
  c.max_difficulty = hi;
  return make_task(c);
}

TEST(PromptFormat, EveryGeneratedPromptIsInItsTrainingFormat) {
  for (const std::string& name : task_names()) {
    const auto t = task(name, 3);
    for (int d = t->min_difficulty(); d <= t->max_difficulty(); ++d)
      for (const Example& ex : t->sample_batch_at(200, d, 7))
        EXPECT_TRUE(in_training_format(*t, ex.prompt)) << name << " d=" << d << " " << ex.prompt;
  }
}

TEST(PromptFormat, OtherSizesTasksAndDifficultiesAreOutside) {
  const auto add4 = task("addition", 4);
  EXPECT_TRUE(in_training_format(*add4, "1750+4733="));
  EXPECT_FALSE(in_training_format(*add4, "12+34="));      // 2-digit operands
  EXPECT_FALSE(in_training_format(*add4, "0012+0034="));  // never written with leading zeros
  EXPECT_FALSE(in_training_format(*add4, "1750*4733="));  // another task
  EXPECT_FALSE(in_training_format(*add4, "1750+4733"));   // no '='
  const auto pointer = task("pointer", 1, 1, 4);
  const Example hard = pointer->sample_batch_at(1, 7, 1).front();  // 7 steps: beyond 1..4
  EXPECT_FALSE(in_training_format(*pointer, hard.prompt)) << hard.prompt;
  const auto chain = task("chain", 1, 1, 4);  // padded to 18 characters (8 operations)
  const std::string pad(10, ' ');
  EXPECT_TRUE(in_training_format(*chain, pad + "3+4*7+5="));
  EXPECT_FALSE(in_training_format(*chain, "3+4*7+5="));        // not padded
  EXPECT_FALSE(in_training_format(*chain, pad + "3+4*2+5="));  // *2 is not invertible mod 10
}

TEST(PromptFormat, WarningCountsNamesTheFirstAndWhatTheModelKnows) {
  const auto add4 = task("addition", 4);
  EXPECT_EQ(training_format_warning(*add4, {"1750+4733=", "9999+1000="}), "");
  const std::string w = training_format_warning(*add4, {"1750+4733=", "12+34=", "1+2="});
  EXPECT_NE(w.find("2 of 3 prompts"), std::string::npos) << w;
  EXPECT_NE(w.find("\"12+34=\""), std::string::npos) << w;
  EXPECT_NE(w.find("addition at difficulty 4"), std::string::npos) << w;
}

}  // namespace
}  // namespace stars
