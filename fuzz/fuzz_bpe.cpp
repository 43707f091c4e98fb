// Fuzzes byte-level BPE. The first byte picks the mode. Even: the rest is a tokenizer.json;
// one that reads must round-trip a fixed text and its own bytes through encode and decode.
// Odd: the rest is text for a fixed tokenizer (every byte, a few merges, ChatML's tokens,
// digits apart), which must round-trip with and without added-token matching.
#include <nlohmann/json.hpp>

#include "data/bpe_model.hpp"
#include "fuzz_contract.hpp"
#include "stars/data/bpe_tokenizer.hpp"

namespace {

const stars::BpeTokenizer& fixed_tokenizer() {
  static const stars::BpeTokenizer tok = [] {
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b)
      vocab[stars::bpe::bytes_to_byte_level(std::string(1, static_cast<char>(b)))] = b;
    nlohmann::json merges = nlohmann::json::array();
    int next = 256;
    for (const char* pair : {" t", "he", " the", "in", " a", "er", "ing", "\n\n"}) {
      const std::string p(pair);
      const std::string left = p.size() == 2 ? p.substr(0, 1) : p.substr(0, 2);
      const std::string right = p.substr(left.size());
      const std::string l = stars::bpe::bytes_to_byte_level(left);
      const std::string r = stars::bpe::bytes_to_byte_level(right);
      merges.push_back(l + " " + r);
      if (!vocab.contains(l + r)) vocab[l + r] = next++;
    }
    nlohmann::json added = nlohmann::json::array();
    for (const char* t : {"<|im_start|>", "<|im_end|>", "<|endoftext|>"})
      added.push_back({{"id", next++}, {"content", t}, {"special", true}});
    nlohmann::json spec = {
        {"added_tokens", added},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Digits"}, {"individual_digits", true}}, {{"type", "ByteLevel"}}}}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    return stars::BpeTokenizer::parse_tokenizer_json(spec.dump(), "fixed");
  }();
  return tok;
}

void round_trip(const stars::BpeTokenizer& tok, const std::string& text) {
  for (bool parse_added : {true, false})
    if (tok.decode(tok.encode(text, parse_added)) != text) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  return stars::fuzz::check(data + 1, size - 1, [&](const std::string& text) {
    if (mode % 2 == 1) {
      round_trip(fixed_tokenizer(), text);
      return;
    }
    const stars::BpeTokenizer tok = stars::BpeTokenizer::parse_tokenizer_json(text, "fuzz.json");
    round_trip(tok, "The 3 quick <|im_end|> brown foxes' 12,345 jumps!\n\n  \xe4\xb8\xad\xff");
    round_trip(tok, text);
  });
}
