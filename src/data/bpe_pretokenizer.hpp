#pragma once
// Hugging Face's pre-tokenizers for byte-level BPE, as steps that each split the pieces of
// the step before: GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (ByteLevel with use_regex, or a Split with that pattern) and Digits. Hand-written
// scanners rather than a regex engine: C++'s <regex> has no \p{L}, and these are the
// splits byte-level BPE vocabularies are trained with.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stars::bpe {

struct Span {
  std::size_t begin, end;
};

enum class SplitStep { gpt2_pattern, digits_individual, digits_runs };

struct PreTokenizer {
  std::vector<SplitStep> steps;   // in order; none: the whole text is one piece
  bool add_prefix_space = false;  // ByteLevel's: a space before text that starts without one

  /// The pieces of `text`, in order, covering it exactly.
  void split(std::string_view text, std::vector<Span>* pieces) const;
  /// "gpt2", "digits+gpt2", ...
  std::string describe() const;
};

/// GPT-2's pattern over text[range.begin, range.end), appended to `out`.
void split_gpt2(std::string_view text, Span range, std::vector<Span>* out);
/// Numbers (\p{N}) apart from the rest: each on its own or in runs.
void split_digits(std::string_view text, Span range, bool individual, std::vector<Span>* out);

}  // namespace stars::bpe
