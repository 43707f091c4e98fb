#pragma once
// Byte-level BPE, the subword tokenizer of GPT-2 and of most pretrained LMs (Ouro's
// included), read from a Hugging Face tokenizer.json or from vocab.json + merges.txt.
// Encoding: added tokens written in the text are matched first (leftmost, longest), the
// rest is split by the pre-tokenizer (GPT-2's pattern, optionally digits apart), each
// piece's bytes become tokens and merge by rank. decode(encode(s)) == s for any bytes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace stars {

/// A token the vocabulary file lists outside the merges (ChatML's <|im_start|>, ...).
struct AddedToken {
  std::string content;
  std::int64_t id = 0;
  bool special = false;  // skipped by decode(ids, /*skip_special=*/true)
};

namespace bpe {
struct Model;
}

class BpeTokenizer {
 public:
  /// A tokenizer.json file, or a directory holding tokenizer.json or vocab.json and
  /// merges.txt. Anything else, or a feature this reader does not implement (a normalizer,
  /// another model type, an unknown split pattern), is a DataError naming the file and key.
  static BpeTokenizer load(const std::string& path);
  static BpeTokenizer from_tokenizer_json(const std::string& path);
  /// The text of a tokenizer.json; `name` is what error messages call it.
  static BpeTokenizer parse_tokenizer_json(std::string_view text, const std::string& name);
  /// GPT-2's two files; `special_tokens` are vocabulary entries matched as whole tokens.
  static BpeTokenizer from_vocab_merges(const std::string& vocab_json,
                                        const std::string& merges_txt,
                                        const std::vector<std::string>& special_tokens);

  /// Token ids of `text`. With `parse_added` false, added tokens written in the text are
  /// encoded as ordinary text (for untrusted text that must not inject <|im_end|>).
  std::vector<std::int64_t> encode(std::string_view text, bool parse_added = true) const;
  /// The bytes of `ids`; a DataError names an id outside the vocabulary.
  std::string decode(const std::vector<std::int64_t>& ids, bool skip_special = false) const;

  /// The number of bytes token `id` decodes to (0 for an id outside the vocabulary).
  std::size_t token_length(std::int64_t id) const;
  /// One past the largest id (vocabulary and added tokens).
  std::int64_t vocab_size() const;
  std::int64_t merge_count() const;
  /// The id of an added token's content, else of the vocabulary entry with these bytes.
  std::optional<std::int64_t> id_of(std::string_view token) const;
  const std::vector<AddedToken>& added_tokens() const;
  /// "byte-level BPE: 50257 tokens, 50000 merges, pre-tokenizer gpt2" and the like.
  std::string describe() const;

 private:
  explicit BpeTokenizer(std::shared_ptr<const bpe::Model> model);
  static BpeTokenizer from_vocab_value(const nlohmann::json& vocab, const std::string& vocab_json,
                                       const std::string& merges_txt,
                                       const std::vector<std::string>& special_tokens);
  static BpeTokenizer from_tokenizer_json_value(const nlohmann::json& root,
                                                const std::string& path);
  std::shared_ptr<const bpe::Model> model_;
};

}  // namespace stars
