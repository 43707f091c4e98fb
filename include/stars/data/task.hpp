#pragma once
// Tasks: deterministic generators of (prompt, answer) problems, looked up by name.
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

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  /// One problem drawn from `rng`.
  virtual Example sample(Rng& rng) const = 0;
  /// Longest prompt + target + eos, in tokens, for sizing position embeddings.
  virtual int max_sequence_length() const = 0;
  /// Longest answer, in characters, which bounds greedy decoding.
  virtual int max_answer_length() const = 0;

  /// `n` problems from the stream (seed, step).
  std::vector<Example> sample_batch(int n, std::uint64_t seed, std::uint64_t step) const;
};

/// n-digit + n-digit addition: prompt "a+b=", answer a+b.
class AdditionTask : public Task {
 public:
  explicit AdditionTask(int digits);
  std::string name() const override { return "addition"; }
  Example sample(Rng& rng) const override;
  int max_sequence_length() const override;
  int max_answer_length() const override { return digits_ + 1; }

 private:
  int digits_;
};

/// Builds the task named in the config; throws ConfigError listing valid names otherwise.
std::unique_ptr<Task> make_task(const DataConfig& cfg);
/// Names in the task table.
std::vector<std::string> task_names();

}  // namespace stars
