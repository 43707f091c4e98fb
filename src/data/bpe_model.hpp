#pragma once
// The tables behind BpeTokenizer, and the helpers the file readers use to fill them.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/bpe_pretokenizer.hpp"
#include "stars/data/bpe_tokenizer.hpp"

namespace stars::bpe {

struct Merge {
  std::int32_t rank;
  std::int64_t id;  // the merged token
};

struct Model {
  std::vector<std::string> token_bytes;  // id -> raw bytes
  std::vector<char> assigned;            // id -> 1 where the id is a token
  std::vector<char> special;             // id -> 1 for special added tokens
  std::unordered_map<std::string, std::int64_t> id_of_bytes;
  std::array<std::int64_t, 256> byte_id{};
  std::unordered_map<std::uint64_t, Merge> merges;  // (left << 32 | right) -> merge
  std::vector<AddedToken> added;
  PreTokenizer pre;
  bool ignore_merges = false;  // a piece that is itself a token is that token
};

/// The byte-level token string of raw bytes (" the" -> "Ġthe").
std::string bytes_to_byte_level(std::string_view bytes);

/// The raw bytes of a byte-level token string ("Ġthe" -> " the"); false where a character
/// is not one of the 256 the byte-level map uses.
bool byte_level_to_bytes(std::string_view token, std::string* bytes);

/// Fills a Model from (token string, id) pairs, merges and added tokens; each step throws a
/// DataError whose message starts with `where` (the file and, where known, the key).
class ModelBuilder {
 public:
  void add_vocab(const std::string& token, std::int64_t id, const std::string& where);
  void add_merge(const std::string& left, const std::string& right, const std::string& where);
  void add_added(AddedToken token, const std::string& where);
  Model finish(PreTokenizer pre, bool ignore_merges, const std::string& where);

 private:
  std::int64_t id_of(const std::string& token, const std::string& where) const;
  void place(std::int64_t id, std::string bytes, const std::string& where);
  std::unordered_map<std::string, std::int64_t> vocab_;  // token string -> id
  Model model_;
  std::int32_t next_rank_ = 0;
};

}  // namespace stars::bpe
