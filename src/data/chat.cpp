#include "stars/data/chat.hpp"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"

namespace stars {
namespace {

using nlohmann::json;

constexpr const char* kRowForms =
    "; a row is {\"problem\": ..., \"solution\": ...}, {\"question\": ..., \"answer\": ...} "
    "or {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}";

[[noreturn]] void fail(const std::string& path, int line_no, const std::string& what) {
  throw DataError(path + ":" + std::to_string(line_no) + ": " + what);
}

std::string text_field(const json& row, const char* key, const std::string& path, int line_no) {
  if (!row[key].is_string())
    fail(path, line_no, std::string("\"") + key + "\" must be a string, got " + row[key].dump());
  return row[key].get<std::string>();
}

Conversation read_messages(const json& list, const std::string& path, int line_no) {
  if (!list.is_array() || list.empty())
    fail(path, line_no, "\"messages\" must be a non-empty list");
  Conversation chat;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      fail(path, line_no, where + " needs a string \"role\" and a string \"content\"");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant")
      fail(path, line_no, where + ": role \"" + role + "\" is not system, user or assistant");
    chat.push_back({role, m["content"].get<std::string>()});
  }
  return chat;
}

// The tokens of one ChatML turn: <|im_start|> "ROLE\nCONTENT" <|im_end|> "\n".
struct Markers {
  std::int64_t start, end;
};

Markers markers(const BpeTokenizer& tok) {
  auto start = tok.id_of("<|im_start|>"), end = tok.id_of("<|im_end|>");
  if (!start || !end)
    throw DataError(std::string("the tokenizer has no ") + (start ? "<|im_end|>" : "<|im_start|>") +
                    " token, which ChatML needs; add it to the tokenizer's added_tokens");
  return {*start, *end};
}

Conversation with_system(const Conversation& chat, const ChatTemplate& tmpl) {
  if (tmpl.system.empty() || (!chat.empty() && chat.front().role == "system")) return chat;
  Conversation out{{"system", tmpl.system}};
  out.insert(out.end(), chat.begin(), chat.end());
  return out;
}

void append_turn(const ChatMessage& m, const BpeTokenizer& tok, Markers mk, TokenizedChat* out) {
  const bool learn = m.role == "assistant";
  out->ids.push_back(mk.start);
  out->in_loss.push_back(0);
  const std::string header = m.role + "\n";
  std::size_t offset = 0;
  for (std::int64_t id : tok.encode(header + m.content, /*parse_added=*/false)) {
    out->ids.push_back(id);
    out->in_loss.push_back(learn && offset >= header.size());  // a token that starts in the content
    offset += tok.token_length(id);
  }
  out->ids.push_back(mk.end);
  out->in_loss.push_back(learn);  // the model learns to end its turn
  for (std::int64_t id : tok.encode("\n", false)) {
    out->ids.push_back(id);
    out->in_loss.push_back(0);
  }
}

}  // namespace

Conversation parse_chat_row(std::string_view line, const std::string& path, int line_no,
                            bool need_assistant) {
  json row;
  try {
    row = json::parse(line);
  } catch (const json::exception& e) {
    fail(path, line_no, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!row.is_object())
    fail(path, line_no, "expected a JSON object, got " + row.dump() + kRowForms);
  Conversation chat;
  if (row.contains("messages")) {
    chat = read_messages(row["messages"], path, line_no);
  } else if (row.contains("problem") || row.contains("solution")) {
    if (!row.contains("problem") || !row.contains("solution"))
      fail(path, line_no, "needs both \"problem\" and \"solution\"");
    chat = {{"user", text_field(row, "problem", path, line_no)},
            {"assistant", text_field(row, "solution", path, line_no)}};
  } else if (row.contains("question") && row.contains("answer")) {
    chat = {{"user", text_field(row, "question", path, line_no)},
            {"assistant", text_field(row, "answer", path, line_no)}};
  } else {
    fail(path, line_no, std::string("no conversation in this row") + kRowForms);
  }
  const bool has_assistant = std::any_of(
      chat.begin(), chat.end(), [](const ChatMessage& m) { return m.role == "assistant"; });
  if (need_assistant && !has_assistant)
    fail(path, line_no, "no assistant message: nothing to train on");
  return chat;
}

std::vector<Conversation> load_chat_jsonl(const std::string& path, bool need_assistant) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the chat data file; check the path");
  std::vector<Conversation> out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(parse_chat_row(line, path, line_no, need_assistant));
  }
  if (out.empty()) throw DataError(path + ": holds no conversations (empty file)");
  return out;
}

std::string render_chat(const Conversation& chat, const ChatTemplate& tmpl) {
  std::string out;
  for (const ChatMessage& m : with_system(chat, tmpl))
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  return out;
}

TokenizedChat tokenize_chat(const Conversation& chat, const BpeTokenizer& tok,
                            const ChatTemplate& tmpl, std::size_t max_tokens) {
  const Markers mk = markers(tok);
  TokenizedChat out;
  for (const ChatMessage& m : with_system(chat, tmpl)) append_turn(m, tok, mk, &out);
  if (max_tokens > 0 && out.ids.size() > max_tokens) {
    out.cut = out.ids.size() - max_tokens;
    out.ids.resize(max_tokens);
    out.in_loss.resize(max_tokens);
  }
  return out;
}

std::vector<std::int64_t> chat_prompt(const Conversation& chat, const BpeTokenizer& tok,
                                      const ChatTemplate& tmpl) {
  const Markers mk = markers(tok);
  Conversation turns = with_system(chat, tmpl);
  while (!turns.empty() && turns.back().role == "assistant") turns.pop_back();
  TokenizedChat out;
  for (const ChatMessage& m : turns) append_turn(m, tok, mk, &out);
  out.ids.push_back(mk.start);
  for (std::int64_t id : tok.encode("assistant\n", false)) out.ids.push_back(id);
  return out.ids;
}

}  // namespace stars
