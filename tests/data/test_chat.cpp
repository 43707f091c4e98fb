// Chat data: rows in each accepted shape, ChatML rendering, the loss on the assistant's
// tokens only, truncation with its count, and bad rows refused with their line.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat.hpp"

namespace {

using stars::Conversation;

const stars::BpeTokenizer& tiny() {
  static const stars::BpeTokenizer tok = stars::BpeTokenizer::load(
      std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/chatml-tiny/tokenizer.json");
  return tok;
}

std::string refusal(const std::string& line) {
  try {
    stars::parse_chat_row(line, "rows.jsonl", 7);
  } catch (const stars::DataError& e) {
    return e.what();
  }
  return "(accepted)";
}

// The text of the tokens the loss sees, in order.
std::string learnt_text(const stars::TokenizedChat& t) {
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < t.ids.size(); ++i)
    if (t.in_loss[i]) ids.push_back(t.ids[i]);
  return tiny().decode(ids);
}

TEST(Chat, ReadsEachRowShape) {
  const Conversation numina = stars::parse_chat_row(
      R"({"problem": "1+1?", "solution": "\\boxed{2}", "source": "x"})", "f", 1);
  ASSERT_EQ(numina.size(), 2u);
  EXPECT_EQ(numina[0].role, "user");
  EXPECT_EQ(numina[1].content, "\\boxed{2}");
  const Conversation gsm =
      stars::parse_chat_row(R"({"question": "q", "answer": "a #### 3"})", "f", 1);
  EXPECT_EQ(gsm[1].content, "a #### 3");
  const Conversation msgs = stars::parse_chat_row(
      R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                       {"role": "assistant", "content": "a"}]})",
      "f", 1);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].role, "system");
}

TEST(Chat, RendersChatMLAndLearnsOnlyTheAssistantsTurns) {
  const Conversation chat = {{"user", "What is 12+34?"},
                             {"assistant", "12+34 = 46, so \\boxed{46}."},
                             {"user", "And 1+1?"},
                             {"assistant", "2"}};
  stars::ChatTemplate tmpl{"You are a careful mathematician."};
  const std::string rendered = stars::render_chat(chat, tmpl);
  EXPECT_EQ(rendered,
            "<|im_start|>system\nYou are a careful mathematician.<|im_end|>\n"
            "<|im_start|>user\nWhat is 12+34?<|im_end|>\n"
            "<|im_start|>assistant\n12+34 = 46, so \\boxed{46}.<|im_end|>\n"
            "<|im_start|>user\nAnd 1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n");
  const stars::TokenizedChat t = stars::tokenize_chat(chat, tiny(), tmpl);
  EXPECT_EQ(tiny().decode(t.ids), rendered);  // the same tokens as encoding the whole text
  EXPECT_EQ(t.ids, tiny().encode(rendered));
  EXPECT_EQ(learnt_text(t), "12+34 = 46, so \\boxed{46}.<|im_end|>2<|im_end|>");
  EXPECT_EQ(t.cut, 0u);
}

TEST(Chat, TextCannotEndATurnAndTruncationIsCounted) {
  const Conversation chat = {{"user", "say <|im_end|> please"}, {"assistant", "ok"}};
  const stars::TokenizedChat t = stars::tokenize_chat(chat, tiny(), {});
  const auto im_end = *tiny().id_of("<|im_end|>");
  EXPECT_EQ(std::count(t.ids.begin(), t.ids.end(), im_end), 2);  // the turns' own, not the text's
  EXPECT_EQ(tiny().decode(t.ids), stars::render_chat(chat, {}));

  const stars::TokenizedChat cut = stars::tokenize_chat(chat, tiny(), {}, 10);
  EXPECT_EQ(cut.ids.size(), 10u);
  EXPECT_EQ(cut.in_loss.size(), 10u);
  EXPECT_EQ(cut.cut, t.ids.size() - 10);
  EXPECT_TRUE(std::equal(cut.ids.begin(), cut.ids.end(), t.ids.begin()));
}

TEST(Chat, PromptEndsWithTheAssistantHeader) {
  const Conversation chat = {{"user", "What is 2+2?"}, {"assistant", "4"}};
  const auto prompt = stars::chat_prompt(chat, tiny(), {});
  EXPECT_EQ(tiny().decode(prompt),
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Chat, RefusesBadRowsWithTheirLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "rows.jsonl:7: not valid JSON"},
      {"[1, 2]", "rows.jsonl:7: expected a JSON object"},
      {R"({"problem": "p"})", "needs both \"problem\" and \"solution\""},
      {R"({"problem": 3, "solution": "s"})", "\"problem\" must be a string, got 3"},
      {R"({"text": "t"})", "no conversation in this row"},
      {R"({"messages": []})", "\"messages\" must be a non-empty list"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})",
       "messages[0]: role \"robot\" is not system, user or assistant"},
      {R"({"messages": [{"role": "user"}]})", "messages[0] needs a string \"role\" and a string"},
      {R"({"messages": [{"role": "user", "content": "x"}]})", "no assistant message"},
  };
  for (const auto& [line, expected] : cases) {
    const std::string message = refusal(line);
    EXPECT_NE(message.find(expected), std::string::npos) << line << " -> " << message;
    EXPECT_EQ(message.rfind("rows.jsonl:7: ", 0), 0u) << message;
  }
  EXPECT_NO_THROW(stars::parse_chat_row(R"({"messages": [{"role": "user", "content": "x"}]})", "f",
                                        1, /*need_assistant=*/false));
}

TEST(Chat, LoadsAFileAndNamesAMissingMarker) {
  const auto path = (std::filesystem::temp_directory_path() / "stars_chat_rows.jsonl").string();
  std::ofstream(path) << R"({"problem": "a", "solution": "b"})"
                      << "\n\n"
                      << R"({"problem": "c", "solution": "d"})"
                      << "\n"
                      << "oops\n";
  try {
    stars::load_chat_jsonl(path);
    FAIL() << "a bad third row was accepted";
  } catch (const stars::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("stars_chat_rows.jsonl:4: not valid JSON"),
              std::string::npos)
        << e.what();
  }
  const stars::BpeTokenizer gpt2 =
      stars::BpeTokenizer::load(std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/gpt2");
  EXPECT_THROW(stars::tokenize_chat({{"user", "x"}, {"assistant", "y"}}, gpt2, {}),
               stars::DataError);
}

}  // namespace
