#pragma once
// What byte-level BPE's pre-tokenizer asks of a character (\p{L}, \p{N}, \s) and UTF-8
// stepping that accepts any bytes: an invalid byte is one character of class `other`, so
// encoding and decoding round-trip arbitrary input.
#include <cstddef>
#include <string_view>

namespace stars::unicode {

enum class CharClass : unsigned char { letter, number, space, other };

/// The Unicode version of the letter and number tables (scripts/bpe/unicode_tables.mjs).
const char* table_version();
bool is_letter_above_ascii(char32_t cp);
bool is_number_above_ascii(char32_t cp);

/// Unicode's White_Space property (what \s means to Hugging Face's tokenizers).
inline bool is_white_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

inline CharClass classify(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    return is_white_space(cp) ? CharClass::space : CharClass::other;
  }
  if (is_white_space(cp)) return CharClass::space;
  if (is_letter_above_ascii(cp)) return CharClass::letter;
  if (is_number_above_ascii(cp)) return CharClass::number;
  return CharClass::other;
}

struct Char {
  char32_t cp;       // kInvalid for a byte that does not start a valid UTF-8 sequence
  std::size_t size;  // bytes
};
inline constexpr char32_t kInvalid = 0xFFFFFFFF;

/// The character starting at byte `pos` of `s` (pos < s.size()).
Char char_at(std::string_view s, std::size_t pos);

/// The class of the character starting at `pos` (an invalid byte is `other`).
inline CharClass class_at(std::string_view s, std::size_t pos, std::size_t* size) {
  Char c = char_at(s, pos);
  *size = c.size;
  return c.cp == kInvalid ? CharClass::other : classify(c.cp);
}

}  // namespace stars::unicode
