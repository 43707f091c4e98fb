// Fuzzes chat data and maths answers. The first byte picks the mode. Even: the rest is a
// JSONL row; one that reads must tokenize to exactly its ChatML rendering, with one loss
// flag per token. Odd: the rest is a maths problem row and a solution for the answer checker,
// whose normal form must match itself whenever it is not empty.
#include "fuzz_contract.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat.hpp"
#include "stars/eval/math_answer.hpp"

namespace {

const stars::BpeTokenizer& tokenizer() {
  static const stars::BpeTokenizer tok = stars::BpeTokenizer::load(
      std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/chatml-tiny/tokenizer.json");
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  return stars::fuzz::check(data + 1, size - 1, [&](const std::string& text) {
    if (mode % 2 == 0) {
      const stars::Conversation chat = stars::parse_chat_row(text, "fuzz.jsonl", 1, mode & 2);
      const stars::ChatTemplate tmpl{mode & 4 ? "system text" : ""};
      const stars::TokenizedChat t = stars::tokenize_chat(chat, tokenizer(), tmpl);
      if (t.in_loss.size() != t.ids.size() || t.cut != 0) __builtin_trap();
      if (tokenizer().decode(t.ids) != stars::render_chat(chat, tmpl)) __builtin_trap();
      stars::chat_prompt(chat, tokenizer(), tmpl);
      return;
    }
    const std::string answer = stars::extract_answer(text);
    if (stars::answers_match(answer, answer) == stars::normalize_answer(answer).empty())
      __builtin_trap();
    stars::parse_math_row(text, "fuzz.jsonl", 1);
  });
}
