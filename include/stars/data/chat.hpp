#pragma once
// Chat data for fine-tuning: JSONL rows of conversations, rendered with ChatML and tokenized
// with a byte-level BPE, with the loss on the assistant's tokens only.
//
// A row is one of
//   {"problem": "...", "solution": "..."}          NuminaMath's columns (user, assistant)
//   {"question": "...", "answer": "..."}           GSM8K's columns (user, assistant)
//   {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", ...}, ...]}
// Roles are system, user and assistant; other keys are ignored.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stars {

class BpeTokenizer;

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};
using Conversation = std::vector<ChatMessage>;

/// One row; a DataError names `path`:`line_no` and what is wrong (not JSON, a missing or
/// mistyped field, an unknown role, no assistant message when `need_assistant`).
Conversation parse_chat_row(std::string_view line, const std::string& path, int line_no,
                            bool need_assistant = true);
/// Every row of a JSONL file (blank lines skipped); a file without rows is a DataError.
std::vector<Conversation> load_chat_jsonl(const std::string& path, bool need_assistant = true);

/// ChatML: "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message. The markers are the
/// tokenizer's added tokens; the text between them is encoded as text, so a conversation
/// that writes "<|im_end|>" cannot end its turn.
struct ChatTemplate {
  std::string system;  // a system turn put first when a conversation has none ("": none)
};

struct TokenizedChat {
  std::vector<std::int64_t> ids;
  std::vector<std::uint8_t> in_loss;  // 1 on the assistant's content and its <|im_end|>
  std::size_t cut = 0;                // tokens dropped from the end by the length limit
};

/// The whole conversation, at most `max_tokens` tokens (0: no limit). A DataError names a
/// ChatML marker the tokenizer lacks.
TokenizedChat tokenize_chat(const Conversation& chat, const BpeTokenizer& tok,
                            const ChatTemplate& tmpl, std::size_t max_tokens = 0);

/// The conversation up to its last user turn, then "<|im_start|>assistant\n": what greedy
/// decoding continues from.
std::vector<std::int64_t> chat_prompt(const Conversation& chat, const BpeTokenizer& tok,
                                      const ChatTemplate& tmpl);

/// The rendered text of tokenize_chat (for logs and for checking against other tools).
std::string render_chat(const Conversation& chat, const ChatTemplate& tmpl);

}  // namespace stars
