// The reasoning tasks: answers against independent computations, difficulty and seed
// control, and the limits of each format.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"

namespace stars {
namespace {

std::unique_ptr<Task> task(const std::string& name, int digits, int lo = 0, int hi = 0) {
  DataConfig d;
  d.task = name;
  d.digits = digits;
  d.min_difficulty = lo;
  d.max_difficulty = hi;
  return make_task(d);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == sep)
      parts.emplace_back();
    else
      parts.back().push_back(c);
  }
  return parts;
}

// Schoolbook arithmetic on decimal strings, independent of the generators' int64 maths.
std::string add_strings(const std::string& a, const std::string& b) {
  std::string out;
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    const int x = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    const int y = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    out.push_back(static_cast<char>('0' + (x + y + carry) % 10));
    carry = (x + y + carry) / 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string multiply_strings(const std::string& a, const std::string& b) {
  std::string total = "0";
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::string partial = "0";
    for (int r = 0; r < b[b.size() - 1 - i] - '0'; ++r) partial = add_strings(partial, a);
    total = add_strings(total, partial + std::string(i, '0'));
  }
  total.erase(0, std::min(total.find_first_not_of('0'), total.size() - 1));
  return total;
}

/// f^k(x) from the cycle of the permutation that holds x: no step-by-step iteration.
int chase_by_cycles(const std::string& table, int x, int k) {
  std::vector<int> cycle{x};
  for (int y = table[static_cast<std::size_t>(x)] - '0'; y != x;
       y = table[static_cast<std::size_t>(y)] - '0')
    cycle.push_back(y);
  return cycle[static_cast<std::size_t>(k) % cycle.size()];
}

TEST(Tasks, MultiplicationMatchesSchoolbookMultiplication) {
  const auto t = task("multiplication", 3, 1, 4);
  for (int m = 1; m <= 4; ++m)
    for (const auto& ex : t->sample_batch_at(100, m, 9)) {
      const auto f = split(ex.prompt.substr(0, ex.prompt.size() - 1), '*');
      ASSERT_EQ(f.size(), 2u) << ex.prompt;
      EXPECT_EQ(f[0].size(), 3u);
      EXPECT_EQ(f[1].size(), static_cast<std::size_t>(m));
      EXPECT_EQ(ex.answer, multiply_strings(f[0], f[1])) << ex.prompt;
      EXPECT_LE(static_cast<int>(ex.answer.size()), t->answer_length(m));
    }
}

TEST(Tasks, MultiAddMatchesStringAddition) {
  const auto t = task("multi_add", 2, 2, 12);
  for (int k : {2, 5, 12})
    for (const auto& ex : t->sample_batch_at(100, k, 9)) {
      const auto ops = split(ex.prompt.substr(0, ex.prompt.size() - 1), '+');
      ASSERT_EQ(ops.size(), static_cast<std::size_t>(k)) << ex.prompt;
      std::string sum = "0";
      for (const auto& o : ops) {
        EXPECT_EQ(o.size(), 2u);
        sum = add_strings(sum, o);
      }
      sum.erase(0, std::min(sum.find_first_not_of('0'), sum.size() - 1));
      EXPECT_EQ(ex.answer, sum) << ex.prompt;
      EXPECT_LE(static_cast<int>(ex.answer.size()), t->answer_length(k));
    }
}

TEST(Tasks, PointerFollowsThePermutationForKSteps) {
  const auto t = task("pointer", 0, 1, 4);
  const Tokenizer tok = Tokenizer::arithmetic();
  std::set<std::string> answers;
  for (int k : {1, 2, 3, 7, 16, 99})
    for (const auto& ex : t->sample_batch_at(200, k, 9)) {
      // "TTTTTTTTTT+x*kk=" with T a permutation of 0..9
      ASSERT_EQ(ex.prompt.size(), 16u) << ex.prompt;
      const std::string table = ex.prompt.substr(0, 10);
      std::string sorted = table;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, "0123456789") << ex.prompt;
      EXPECT_EQ(ex.prompt.substr(10, 1), "+");
      EXPECT_EQ(ex.prompt.substr(12, 1), "*");
      EXPECT_EQ(std::stoi(ex.prompt.substr(13, 2)), k);
      EXPECT_EQ(ex.answer, std::to_string(chase_by_cycles(table, ex.prompt[11] - '0', k)));
      // Every problem has the same length in tokens, whatever its difficulty.
      EXPECT_EQ(static_cast<int>(tok.encode(ex.prompt + target_text(ex)).size()) + 1,
                t->sequence_length(k));
      answers.insert(ex.answer);
    }
  EXPECT_EQ(answers.size(), 10u);  // no digit is favoured away
}

/// Follows a list_end table (digit i: the node i points to) from `x` to the node that
/// points to itself: {that node, hops taken}; gives up after 11 hops (a cycle).
std::pair<int, int> walk_to_end(const std::string& table, int x) {
  int hops = 0;
  while (table[static_cast<std::size_t>(x)] - '0' != x && hops <= 10) {
    x = table[static_cast<std::size_t>(x)] - '0';
    ++hops;
  }
  return {x, hops};
}

TEST(Tasks, ListEndFollowsTheListToItsSelfLoop) {
  const auto t = task("list_end", 0, 1, 4);
  EXPECT_EQ(t->difficulty_limit(), 8);
  const Tokenizer tok = Tokenizer::arithmetic();
  std::set<std::string> answers;
  for (int k : {1, 2, 4, 6, 8})
    for (const auto& ex : t->sample_batch_at(200, k, 9)) {
      ASSERT_EQ(ex.prompt.size(), 13u) << ex.prompt;  // "TTTTTTTTTT+x="
      const std::string table = ex.prompt.substr(0, 10);
      EXPECT_EQ(ex.prompt.substr(10, 1), "+");
      EXPECT_EQ(ex.prompt.substr(12, 1), "=");
      const auto [x, hops] = walk_to_end(table, ex.prompt[11] - '0');
      EXPECT_EQ(hops, k) << ex.prompt;
      EXPECT_EQ(ex.answer, std::to_string(x)) << ex.prompt;
      // Two lists, two ends: the answer is not the only node that points to itself.
      int self_loops = 0;
      for (int i = 0; i < 10; ++i) self_loops += table[static_cast<std::size_t>(i)] - '0' == i;
      EXPECT_EQ(self_loops, 2) << ex.prompt;
      EXPECT_EQ(static_cast<int>(tok.encode(ex.prompt + target_text(ex)).size()) + 1,
                t->sequence_length(k));
      answers.insert(ex.answer);
    }
  EXPECT_EQ(answers.size(), 10u);
  EXPECT_THROW(task("list_end", 4, 1, 9), ConfigError);
}

/// The nodes of each list of a list_end table, by its end: list lengths keyed by end node.
std::map<int, int> list_lengths(const std::string& table) {
  std::map<int, int> lengths;
  for (int start = 0; start < 10; ++start) {
    const auto [end, hops] = walk_to_end(table, start);
    lengths[end] = std::max(lengths[end], hops + 1);  // the longest walk starts at the head
  }
  return lengths;
}

TEST(Tasks, ListEndMixedSplitsTheOtherNodesIntoListsOfRandomLength) {
  const auto t = task("list_end_mixed", 0, 1, 4);
  EXPECT_EQ(t->name(), "list_end_mixed");
  std::map<int, int> list_counts;  // lists per table -> tables
  int shorter_other = 0, lone_self_loop = 0;
  for (int k : {1, 4, 7, 8})
    for (const auto& ex : t->sample_batch_at(300, k, 9)) {
      ASSERT_EQ(ex.prompt.size(), 13u) << ex.prompt;
      const std::string table = ex.prompt.substr(0, 10);
      const auto [x, hops] = walk_to_end(table, ex.prompt[11] - '0');
      EXPECT_EQ(hops, k) << ex.prompt;
      EXPECT_EQ(ex.answer, std::to_string(x)) << ex.prompt;
      const auto lengths = list_lengths(table);
      int nodes = 0;
      for (const auto& [end, n] : lengths) nodes += n;
      EXPECT_EQ(nodes, 10) << ex.prompt;  // every node on exactly one list
      EXPECT_EQ(lengths.at(x), k + 1) << ex.prompt;
      ++list_counts[static_cast<int>(lengths.size())];
      for (const auto& [end, n] : lengths) {
        if (end == x) continue;
        shorter_other += k == 4 && n <= k;
        lone_self_loop += k == 1 && n == 1;
      }
    }
  // 1 to 3 other lists: 2, 3 and 4 ends, each often; at 8 hops only one other node is left.
  EXPECT_EQ(list_counts.size(), 3u);
  for (int lists : {2, 3, 4}) EXPECT_GT(list_counts[lists], 150) << lists << " lists";
  EXPECT_GT(shorter_other, 100);  // at 4 hops, other lists as short as x's or shorter
  EXPECT_GT(lone_self_loop, 20);  // at 1 hop, other lists of one node
  // The plain task keeps its one other list of 9 - k nodes, and its problems.
  const auto plain = task("list_end", 0, 1, 4)->sample_batch_at(2, 1, 5);
  EXPECT_EQ(plain[0].prompt, "2134897751+6=");
  EXPECT_EQ(plain[0].answer, "7");
}

/// Evaluates "s+d*d..." right to left by recursion: an independent reading of the chain.
int evaluate_chain(const std::string& expr) {
  if (expr.size() == 1) return expr[0] - '0';
  const int left = evaluate_chain(expr.substr(0, expr.size() - 2));
  const int d = expr.back() - '0';
  return expr[expr.size() - 2] == '+' ? (left + d) % 10 : (left * d) % 10;
}

TEST(Tasks, ChainAppliesEveryOperationInOrder) {
  const auto t = task("chain", 0, 1, 8);
  const auto& chain = dynamic_cast<const ChainTask&>(*t);
  EXPECT_EQ(chain.difficulty_limit(), 16);  // padded for twice the training range
  const Tokenizer tok = Tokenizer::arithmetic();
  std::set<std::string> answers;
  for (int k : {1, 2, 5, 12, 16})
    for (const auto& ex : t->sample_batch_at(200, k, 9)) {
      ASSERT_EQ(ex.prompt.size(), static_cast<std::size_t>(chain.prompt_width()));
      const auto start = ex.prompt.find_first_not_of(' ');
      const std::string expr = ex.prompt.substr(start, ex.prompt.size() - start - 1);
      ASSERT_EQ(expr.size(), static_cast<std::size_t>(2 * k + 1)) << ex.prompt;
      for (std::size_t i = 1; i < expr.size(); i += 2) {
        ASSERT_TRUE(expr[i] == '+' || expr[i] == '*') << ex.prompt;
        if (expr[i] == '*') {
          EXPECT_NE(std::string("1379").find(expr[i + 1]), std::string::npos);
        }
      }
      EXPECT_EQ(ex.answer, std::to_string(evaluate_chain(expr))) << ex.prompt;
      EXPECT_EQ(static_cast<int>(tok.encode(ex.prompt + target_text(ex)).size()) + 1,
                t->sequence_length(k));
      answers.insert(ex.answer);
    }
  EXPECT_EQ(answers.size(), 10u);
}

TEST(Tasks, TrainingDrawsEveryDifficultyInRangeAndNoOther) {
  const auto t = task("pointer", 0, 2, 5);
  std::set<int> seen;
  for (const auto& ex : t->sample_batch(400, 3, 0)) seen.insert(std::stoi(ex.prompt.substr(13, 2)));
  EXPECT_EQ(seen, (std::set<int>{2, 3, 4, 5}));
  const auto m = task("multi_add", 1, 3, 3);
  for (const auto& ex : m->sample_batch(50, 3, 0))
    EXPECT_EQ(std::count(ex.prompt.begin(), ex.prompt.end(), '+'), 2) << ex.prompt;
}

TEST(Tasks, SeedControlsTheProblems) {
  for (const char* name :
       {"multiplication", "multi_add", "chain", "pointer", "list_end", "list_end_mixed"}) {
    const auto t = task(name, 2);
    const auto a = t->sample_batch_at(30, 2, 1), b = t->sample_batch_at(30, 2, 1),
               c = t->sample_batch_at(30, 2, 2);
    int differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].prompt, b[i].prompt) << name;
      differ += a[i].prompt != c[i].prompt;
    }
    EXPECT_GT(differ, 20) << name;
  }
}

TEST(Tasks, DefaultsAndLimitsOfEachFormat) {
  EXPECT_EQ(task("addition", 4)->max_difficulty(), 4);  // addition's dial is its digits
  EXPECT_EQ(task("chain", 4)->min_difficulty(), 1);
  EXPECT_EQ(task("chain", 4)->max_difficulty(), 4);
  EXPECT_EQ(task("multi_add", 4)->max_difficulty(), 3);
  try {
    task("multiplication", 9, 1, 12);
    FAIL() << "a 9 x 12-digit product does not fit the format";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.min_difficulty/max_difficulty"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[1, 9]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(task("chain", 4, 5, 3), ConfigError);
  EXPECT_THROW(task("chain", 4, 5, 4), ConfigError);
  EXPECT_THROW(task("pointer", 4, 1, 100), ConfigError);
}

}  // namespace
}  // namespace stars
