#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/batch.hpp"
#include "stars/data/jsonl.hpp"
#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"

namespace stars {
namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Tokenizer, EncodeDecodeRoundTripAndSpecialTokens) {
  const Tokenizer tok = Tokenizer::arithmetic();
  EXPECT_EQ(tok.vocab_size(), 16);
  const auto ids = tok.encode("12+34= 64");
  EXPECT_EQ(tok.decode(ids), "12+34= 64");
  auto with_eos = ids;
  with_eos.push_back(tok.eos_id());
  with_eos.push_back(tok.encode("9")[0]);
  EXPECT_EQ(tok.decode(with_eos), "12+34= 64");  // stops at eos
  EXPECT_THROW(tok.encode("1-2"), DataError);
}

TEST(Task, AdditionIsDeterministicAndCorrect) {
  DataConfig d;
  d.digits = 4;
  const auto task = make_task(d);
  const auto a = task->sample_batch(50, 7, 3), b = task->sample_batch(50, 7, 3),
             c = task->sample_batch(50, 7, 4);
  int differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    differ += a[i].prompt != c[i].prompt;
    const auto plus = a[i].prompt.find('+');
    const long x = std::stol(a[i].prompt.substr(0, plus));
    const long y = std::stol(a[i].prompt.substr(plus + 1));
    EXPECT_GE(x, 1000);
    EXPECT_LE(x, 9999);
    EXPECT_EQ(std::to_string(x + y), a[i].answer);
  }
  EXPECT_GT(differ, 40);
}

TEST(Task, TargetIsSpaceThenReversedAnswer) {
  EXPECT_EQ(target_text({"1750+4733=", "6483"}), " 3846");
}

TEST(Task, UnknownTaskListsValidNames) {
  DataConfig d;
  d.task = "subtraction";
  try {
    make_task(d);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("addition"), std::string::npos);
  }
}

TEST(Scoring, ExactMatchOfReversedInteger) {
  EXPECT_TRUE(answer_matches("3846", "6483"));
  EXPECT_TRUE(answer_matches(" 3846", "6483"));
  EXPECT_TRUE(answer_matches("38460", "6483"));   // leading zero in the most significant place
  EXPECT_FALSE(answer_matches("384", "6483"));    // missing digit (eos came early)
  EXPECT_FALSE(answer_matches("3846+", "6483"));  // non-digits
  EXPECT_FALSE(answer_matches("", "6483"));
  EXPECT_FALSE(answer_matches("03846", "6483"));  // a zero in the units place changes the number
}

TEST(Batch, LossOnlyOnTargetTokens) {
  const Tokenizer tok = Tokenizer::arithmetic();
  const Batch b = make_batch({{"1+2=", "3"}, {"99+9=", "108"}}, tok, torch::kCPU);
  // longest sequence: "99+9=" + " 801" + eos = 10 tokens -> T = 9 (inputs drop the last)
  ASSERT_EQ(b.inputs.size(1), 9);
  const auto t0 = b.targets[0];
  // first row "1+2= 3" + eos: prompt 4 tokens, so positions 3, 4, 5 predict " ", "3", eos
  EXPECT_EQ(t0[2].item<int64_t>(), kIgnoreIndex);
  EXPECT_EQ(t0[3].item<int64_t>(), tok.encode(" ")[0]);
  EXPECT_EQ(t0[4].item<int64_t>(), tok.encode("3")[0]);
  EXPECT_EQ(t0[5].item<int64_t>(), tok.eos_id());
  EXPECT_EQ(t0[6].item<int64_t>(), kIgnoreIndex);
  EXPECT_EQ(b.inputs[0][6].item<int64_t>(), tok.pad_id());
  EXPECT_EQ((b.targets != kIgnoreIndex).sum().item<int64_t>(), 3 + 5);
}

TEST(Jsonl, ReadsPublishedAndGenericFormats) {
  const auto path = temp_file("stars_ok.jsonl",
                              "{\"num1\": 1750, \"num2\": 4733, \"answer\": 6483}\n\n"
                              "{\"prompt\": \"2+2=\", \"answer\": \"4\"}\n");
  const auto ex = load_jsonl(path);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].prompt, "1750+4733=");
  EXPECT_EQ(ex[0].answer, "6483");
  EXPECT_EQ(ex[1].prompt, "2+2=");
}

TEST(Jsonl, MalformedLineNamesFileAndLine) {
  const auto path = temp_file("stars_bad.jsonl", "{\"num1\": 1, \"num2\": 2}\n{\"num1\": 1, \n");
  try {
    load_jsonl(path);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  }
  const auto wrong = temp_file("stars_wrong.jsonl", "{\"num1\": 1, \"num2\": 2, \"answer\": 4}\n");
  EXPECT_THROW(load_jsonl(wrong), DataError);
}

TEST(Jsonl, OperandsThatCouldOverflowAreRejected) {
  EXPECT_THROW(parse_jsonl_line(R"({"num1": 9223372036854775807, "num2": 1})", "d.jsonl", 1),
               DataError);
  EXPECT_THROW(parse_jsonl_line(R"({"num1": 18446744073709551615, "num2": 1})", "d.jsonl", 1),
               DataError);
  EXPECT_THROW(parse_jsonl_line(R"({"num1": -5, "num2": 1})", "d.jsonl", 1), DataError);
  EXPECT_THROW(parse_jsonl_line(R"({"num1": 1e99999, "num2": 1})", "d.jsonl", 1), DataError);
}

TEST(Jsonl, EmptyOrMissingFileIsAnError) {
  EXPECT_THROW(load_jsonl(temp_file("stars_empty.jsonl", "")), DataError);
  EXPECT_THROW(load_jsonl("/nonexistent/data.jsonl"), DataError);
}

}  // namespace
}  // namespace stars
