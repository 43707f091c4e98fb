#include "data/bpe_pretokenizer.hpp"

#include "data/unicode_classes.hpp"

namespace stars::bpe {
namespace {

using unicode::CharClass;
using unicode::class_at;

// Length of GPT-2's contraction ('s 't 're 've 'm 'll 'd) at `pos`, 0 if none.
std::size_t contraction_at(std::string_view s, std::size_t pos) {
  if (s[pos] != '\'' || pos + 1 >= s.size()) return 0;
  char a = s[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= s.size()) return 0;
  char b = s[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

std::size_t run_end(std::string_view s, std::size_t pos, CharClass c) {
  std::size_t size = 0;
  while (pos < s.size() && class_at(s, pos, &size) == c) pos += size;
  return pos;
}

}  // namespace

void split_gpt2(std::string_view text, Span range, std::vector<Span>* out) {
  std::string_view s = text.substr(0, range.end);
  std::size_t i = range.begin;
  while (i < s.size()) {
    if (std::size_t n = contraction_at(s, i)) {
      out->push_back({i, i + n});
      i += n;
      continue;
    }
    std::size_t size = 0;
    CharClass c = class_at(s, i, &size);
    std::size_t body = i;
    // " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+": one space may lead a run.
    if (s[i] == ' ' && i + 1 < s.size()) {
      CharClass next = class_at(s, i + 1, &size);
      if (next != CharClass::space) {
        c = next;
        body = i + 1;
      }
    }
    if (c != CharClass::space) {
      std::size_t j = run_end(s, body, c);
      out->push_back({i, j});
      i = j;
      continue;
    }
    // "\s+(?!\S)|\s+": a whitespace run leaves its last character to the word after it.
    std::size_t j = i, last = i;
    while (j < s.size() && class_at(s, j, &size) == CharClass::space) {
      last = j;
      j += size;
    }
    std::size_t stop = (j == s.size() || last == i) ? j : last;
    out->push_back({i, stop});
    i = stop;
  }
}

void split_digits(std::string_view text, Span range, bool individual, std::vector<Span>* out) {
  std::string_view s = text.substr(0, range.end);
  std::size_t i = range.begin, start = range.begin, size = 0;
  while (i < s.size()) {
    if (class_at(s, i, &size) != CharClass::number) {
      i += size;
      continue;
    }
    if (start < i) out->push_back({start, i});
    std::size_t j = individual ? i + size : run_end(s, i, CharClass::number);
    out->push_back({i, j});
    i = start = j;
  }
  if (start < s.size()) out->push_back({start, s.size()});
}

void PreTokenizer::split(std::string_view text, std::vector<Span>* pieces) const {
  pieces->assign(1, {0, text.size()});
  if (text.empty()) {
    pieces->clear();
    return;
  }
  std::vector<Span> next;
  for (SplitStep step : steps) {
    next.clear();
    for (Span piece : *pieces) {
      if (step == SplitStep::gpt2_pattern)
        split_gpt2(text, piece, &next);
      else
        split_digits(text, piece, step == SplitStep::digits_individual, &next);
    }
    pieces->swap(next);
  }
}

std::string PreTokenizer::describe() const {
  std::string out;
  for (SplitStep step : steps) {
    if (!out.empty()) out += "+";
    out += step == SplitStep::gpt2_pattern        ? "gpt2"
           : step == SplitStep::digits_individual ? "digits"
                                                  : "digit-runs";
  }
  if (out.empty()) out = "none";
  return add_prefix_space ? out + " (prefix space)" : out;
}

}  // namespace stars::bpe
