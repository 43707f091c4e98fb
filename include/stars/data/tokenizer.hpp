#pragma once
// Character-level vocabularies: one token per character (arithmetic) or per byte (text),
// plus pad and eos.
#include <cstdint>
#include <string>
#include <vector>

namespace stars {

class Tokenizer {
 public:
  /// The arithmetic vocabulary: digits, '+', '*', '=', ' ', then pad and eos.
  static Tokenizer arithmetic();
  /// Every byte value 0..255 (token id = byte), then pad (256) and eos (257).
  static Tokenizer bytes();
  explicit Tokenizer(std::string chars);

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(chars_.size()) + 2; }
  std::int64_t pad_id() const { return static_cast<std::int64_t>(chars_.size()); }
  std::int64_t eos_id() const { return pad_id() + 1; }

  /// Token ids of `text`; throws DataError naming the character if it is not in the vocabulary.
  std::vector<std::int64_t> encode(const std::string& text) const;
  /// Text of `ids`, stopping at the first eos; pad and eos are dropped.
  std::string decode(const std::vector<std::int64_t>& ids) const;
  const std::string& chars() const { return chars_; }

 private:
  std::string chars_;
  std::vector<std::int64_t> index_;  // char -> id, -1 if absent
};

}  // namespace stars
