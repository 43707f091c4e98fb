#pragma once
// Tasks: deterministic generators of (prompt, answer) problems, looked up by name.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "stars/util/rng.hpp"

namespace stars {

struct DataConfig;

/// One problem. `answer` is the canonical answer text, most significant digit first.
struct Example {
  std::string prompt;  // e.g. "1750+4733="
  std::string answer;  // e.g. "6483"
};

/// The text the model is trained to emit after the prompt: a space, then the answer
/// reversed (least significant digit first, as in the published STARS setup).
std::string target_text(const Example& ex);

/// True when `decoded` (the model's output after the prompt, space included or not)
/// states the same answer: reversed digits compared as integers, so leading zeros in
/// the most significant place are accepted; anything that is not digits is wrong.
bool answer_matches(const std::string& decoded, const std::string& answer);

/// Difficulties [lo, hi], both included.
struct DifficultyRange {
  int lo = 1, hi = 1;
};

/// A generator of problems with one difficulty dial (digits, operands or steps).
/// Training draws the difficulty uniformly from [min_difficulty, max_difficulty];
/// evaluation can ask for any difficulty up to difficulty_limit().
class Task {
 public:
  Task(int min_difficulty, int max_difficulty)
      : min_difficulty_(min_difficulty), max_difficulty_(max_difficulty) {}
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  /// One problem of difficulty `d`, drawn from `rng`.
  virtual Example sample_at(Rng& rng, int d) const = 0;
  /// Prompt + target + eos at difficulty `d`, in tokens (the longest if it varies).
  virtual int sequence_length(int d) const = 0;
  /// Longest answer at difficulty `d`, in characters; bounds greedy decoding.
  virtual int answer_length(int d) const = 0;
  /// An ECMAScript regular expression that every prompt of difficulty `d` matches whole.
  virtual std::string prompt_pattern(int d) const = 0;
  /// The largest difficulty the format allows.
  virtual int difficulty_limit() const = 0;
  /// The largest difficulty a training range may reach (the same, unless the format
  /// depends on the training range).
  virtual int training_limit() const { return difficulty_limit(); }

  int min_difficulty() const { return min_difficulty_; }
  int max_difficulty() const { return max_difficulty_; }
  int max_sequence_length() const { return sequence_length(max_difficulty_); }
  int max_answer_length() const { return answer_length(max_difficulty_); }

  DifficultyRange training_range() const { return {min_difficulty_, max_difficulty_}; }

  /// One problem at a difficulty drawn uniformly from the training range (no draw is
  /// spent when the range is a single value).
  Example sample(Rng& rng) const { return sample(rng, training_range()); }
  /// The same from `range`, a part of the training range (a phase's curriculum); the
  /// problems keep the task's format, so they match the evaluation's.
  Example sample(Rng& rng, DifficultyRange range) const;
  /// `n` problems from the stream (seed, step).
  std::vector<Example> sample_batch(int n, std::uint64_t seed, std::uint64_t step) const {
    return sample_batch(n, seed, step, training_range());
  }
  std::vector<Example> sample_batch(int n, std::uint64_t seed, std::uint64_t step,
                                    DifficultyRange range) const;
  /// `n` problems, all of difficulty `d`, from the stream (seed, d): each difficulty has
  /// its own fixed problem set.
  std::vector<Example> sample_batch_at(int n, int d, std::uint64_t seed) const;

 private:
  int min_difficulty_, max_difficulty_;
};

/// n-digit + n-digit addition: prompt "a+b=", answer a+b. Difficulty: n.
class AdditionTask : public Task {
 public:
  AdditionTask(int min_digits, int max_digits) : Task(min_digits, max_digits) {}
  std::string name() const override { return "addition"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int digits) const override;
  int sequence_length(int digits) const override;
  int answer_length(int digits) const override { return digits + 1; }
  int difficulty_limit() const override { return 9; }
};

/// n-digit x m-digit multiplication: prompt "a*b=", answer a*b. Difficulty: m (n fixed).
class MultiplicationTask : public Task {
 public:
  MultiplicationTask(int n, int min_m, int max_m) : Task(min_m, max_m), n_(n) {}
  std::string name() const override { return "multiplication"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int m) const override;
  int sequence_length(int m) const override;
  int answer_length(int m) const override { return n_ + m; }
  int difficulty_limit() const override { return std::min(9, 18 - n_); }  // fits in int64

 private:
  int n_;
};

/// The sum of k operands of n digits each: prompt "a+b+c=", answer a+b+c. Difficulty: k.
class MultiAddTask : public Task {
 public:
  MultiAddTask(int n, int min_k, int max_k) : Task(min_k, max_k), n_(n) {}
  std::string name() const override { return "multi_add"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int k) const override;
  int sequence_length(int k) const override;
  int answer_length(int k) const override;
  int difficulty_limit() const override { return 99; }

 private:
  int n_;
};

/// A left-to-right chain of modular operations: start from a digit, apply k operations
/// "+d" (d in 0..9) or "*d" (d in 1, 3, 7, 9), all modulo 10, and give the final digit.
///   prompt: spaces, then "s" and k operations, then "=", e.g. "    3+4*7+5=" (k = 3,
///   answer ((3+4)*7+5) mod 10 = 4); every prompt is padded on the left to the width of
///   a chain of twice the largest training difficulty (the range evaluation probes), so
///   harder problems are not longer, only further from the start.
/// Every operation is a bijection of 0..9, so the answer depends on every step, in
/// order ('+' and '*' do not commute): the running value has to be carried from each
/// operation to the next. Difficulty: k.
class ChainTask : public Task {
 public:
  ChainTask(int min_k, int max_k) : Task(min_k, max_k) {}
  std::string name() const override { return "chain"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int k) const override;
  int sequence_length(int) const override { return prompt_width() + 3; }  // " d", eos
  int answer_length(int) const override { return 1; }
  int difficulty_limit() const override { return 2 * max_difficulty(); }
  int training_limit() const override { return 24; }
  int prompt_width() const { return 1 + 2 * difficulty_limit() + 1; }
};

/// Pointer chasing: follow a random permutation f of 0..9 for k steps from x.
///   prompt "TTTTTTTTTT+x*kk=": T is f written out (the digit at position i is f(i)),
///   x the start, kk the step count in two digits; answer f^k(x), one digit.
/// Every problem has the same length whatever k; each step is a lookup that needs the
/// value the previous one produced (f is drawn afresh per problem). Difficulty: k.
class PointerTask : public Task {
 public:
  PointerTask(int min_k, int max_k) : Task(min_k, max_k) {}
  std::string name() const override { return "pointer"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int k) const override;
  int sequence_length(int) const override { return 16 + 3; }  // prompt, " d", eos
  int answer_length(int) const override { return 1; }
  int difficulty_limit() const override { return 99; }
};

/// Following a linked list to its end: 10 nodes 0..9 hold two lists, each ending in a node
/// that points to itself; from x, follow the pointers until they stop moving.
///   prompt "TTTTTTTTTT+x=": the digit at position i is the node i points to; answer: the
///   end of x's list, reached after k hops. The other nodes form the second list, with an
///   end of its own, so the answer is not the only self-loop: it has to be reached.
/// The hop count is not in the prompt, and the answer is the fixed point of x <- T[x]: more
/// steps than needed change nothing. Every problem has the same length. Difficulty: k.
///
/// `list_end_mixed` (mixed_rest): the nodes off x's list form 1 to 3 lists (as many as
/// they allow) of random lengths instead of one list of 9 − k nodes. In list_end the other
/// list is longer than x's whenever k <= 4, and a lone self-loop appears only at k = 8, so a
/// model trained on short lists meets new table shapes on long ones; here every shape
/// occurs at every difficulty, and only following the list tells which end is x's.
class ListEndTask : public Task {
 public:
  ListEndTask(int min_k, int max_k, bool mixed_rest = false)
      : Task(min_k, max_k), mixed_rest_(mixed_rest) {}
  std::string name() const override { return mixed_rest_ ? "list_end_mixed" : "list_end"; }
  std::string prompt_pattern(int d) const override;
  Example sample_at(Rng& rng, int k) const override;
  int sequence_length(int) const override { return 13 + 3; }  // prompt, " d", eos
  int answer_length(int) const override { return 1; }
  int difficulty_limit() const override { return 8; }  // 9 hops would leave no second list

 private:
  bool mixed_rest_;
};

/// Builds the task named in the config; throws ConfigError listing valid names otherwise.
std::unique_ptr<Task> make_task(const DataConfig& cfg);
/// Names in the task table.
std::vector<std::string> task_names();

}  // namespace stars
