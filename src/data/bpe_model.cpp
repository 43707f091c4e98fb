#include "data/bpe_model.hpp"

#include <algorithm>

#include "data/unicode_classes.hpp"
#include "stars/config/errors.hpp"

namespace stars::bpe {
namespace {

// GPT-2's map: printable Latin-1 bytes keep their code point, the other 68 bytes move to
// U+0100 and up, so every token is printable text.
std::array<int, 324> unicode_to_byte() {
  std::array<int, 324> out;
  out.fill(-1);
  int shifted = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    out[printable ? b : 256 + shifted++] = b;
  }
  return out;
}

constexpr std::int64_t kMaxId = 1LL << 31;

void append_utf8(char32_t cp, std::string* out) {  // code points below U+0800 only
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  static const std::array<char32_t, 256> table = [] {
    std::array<int, 324> inverse = unicode_to_byte();
    std::array<char32_t, 256> out{};
    for (std::size_t cp = 0; cp < inverse.size(); ++cp)
      if (inverse[cp] >= 0) out[inverse[cp]] = static_cast<char32_t>(cp);
    return out;
  }();
  std::string out;
  for (char b : bytes) append_utf8(table[static_cast<unsigned char>(b)], &out);
  return out;
}

bool byte_level_to_bytes(std::string_view token, std::string* bytes) {
  static const std::array<int, 324> table = unicode_to_byte();
  bytes->clear();
  for (std::size_t i = 0; i < token.size();) {
    unicode::Char c = unicode::char_at(token, i);
    if (c.cp == unicode::kInvalid || c.cp >= table.size() || table[c.cp] < 0) return false;
    bytes->push_back(static_cast<char>(table[c.cp]));
    i += c.size;
  }
  return true;
}

void ModelBuilder::place(std::int64_t id, std::string bytes, const std::string& where) {
  if (id < 0 || id >= kMaxId)
    throw DataError(where + ": token id " + std::to_string(id) + " is outside 0.." +
                    std::to_string(kMaxId - 1));
  auto n = static_cast<std::size_t>(id) + 1;
  if (model_.token_bytes.size() < n) {
    model_.token_bytes.resize(n);
    model_.assigned.resize(n, 0);
    model_.special.resize(n, 0);
  }
  if (model_.assigned[id] && model_.token_bytes[id] != bytes)
    throw DataError(where + ": token id " + std::to_string(id) + " is given to two tokens");
  model_.assigned[id] = 1;
  model_.token_bytes[id] = std::move(bytes);
}

void ModelBuilder::add_vocab(const std::string& token, std::int64_t id, const std::string& where) {
  std::string bytes;
  if (!byte_level_to_bytes(token, &bytes))
    throw DataError(where + ": token \"" + token +
                    "\" is not byte-level (a character outside the 256 of the byte map); "
                    "stars reads byte-level BPE vocabularies only");
  place(id, bytes, where);
  vocab_.emplace(token, id);
  model_.id_of_bytes.emplace(std::move(bytes), id);
}

std::int64_t ModelBuilder::id_of(const std::string& token, const std::string& where) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) throw DataError(where + ": \"" + token + "\" is not in the vocabulary");
  return it->second;
}

void ModelBuilder::add_merge(const std::string& left, const std::string& right,
                             const std::string& where) {
  std::int64_t l = id_of(left, where), r = id_of(right, where);
  std::int64_t merged = id_of(left + right, where);
  auto key = (static_cast<std::uint64_t>(l) << 32) | static_cast<std::uint64_t>(r);
  model_.merges.emplace(key, Merge{next_rank_++, merged});  // a repeated pair keeps its first rank
}

void ModelBuilder::add_added(AddedToken token, const std::string& where) {
  if (token.content.empty()) throw DataError(where + ": an added token with empty content");
  place(token.id, token.content, where);
  if (token.special) model_.special[token.id] = 1;
  model_.added.push_back(std::move(token));
}

Model ModelBuilder::finish(PreTokenizer pre, bool ignore_merges, const std::string& where) {
  for (int b = 0; b < 256; ++b) {
    auto it = model_.id_of_bytes.find(std::string(1, static_cast<char>(b)));
    if (it == model_.id_of_bytes.end())
      throw DataError(where + ": byte " + std::to_string(b) +
                      " has no token, so some text could not be encoded; a byte-level "
                      "vocabulary holds all 256 bytes");
    model_.byte_id[b] = it->second;
  }
  // Longest first, so that at one position the longest added token wins.
  std::stable_sort(
      model_.added.begin(), model_.added.end(),
      [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  model_.pre = std::move(pre);
  model_.ignore_merges = ignore_merges;
  return std::move(model_);
}

}  // namespace stars::bpe
