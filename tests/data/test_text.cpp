// The text task: byte tokens, UTF-8 checks, corpus split, and windows with every byte as a
// target.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/text.hpp"

namespace fs = std::filesystem;

namespace stars {
namespace {

std::string write_temp(const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::temp_directory_path() / "stars_text_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(Text, ByteTokenizerRoundTripsEveryByte) {
  const Tokenizer tok = Tokenizer::bytes();
  EXPECT_EQ(tok.vocab_size(), 258);
  EXPECT_EQ(tok.pad_id(), 256);
  EXPECT_EQ(tok.eos_id(), 257);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const auto ids = tok.encode(all);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[static_cast<std::size_t>(b)], b);
  EXPECT_EQ(tok.decode(ids), all);
}

TEST(Text, InvalidUtf8IsRefusedWithItsOffsetAndLine) {
  EXPECT_NO_THROW(check_utf8("plain, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80\n", "ok.txt"));
  const std::string latin1 = "line one\nna\xEFve\n";  // ï in Latin-1
  const std::string msg = error_of([&] { check_utf8(latin1, "f.txt"); });
  EXPECT_NE(msg.find("f.txt: byte 11 (line 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("iconv"), std::string::npos) << msg;
  // Overlong forms, surrogates and a sequence cut by the end of the file are refused too.
  EXPECT_NE(error_of([] { check_utf8("\xC0\xAF", "x"); }), "");
  EXPECT_NE(error_of([] { check_utf8("\xED\xA0\x80", "x"); }), "");
  EXPECT_NE(error_of([] { check_utf8("ab\xE2\x82", "x"); }), "");
}

TEST(Text, CorpusSplitsAtALineEndAndRefusesBadFiles) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + " of the corpus\n";
  DataConfig data;
  data.task = "text";
  data.seq_len = 16;
  data.valid_fraction = 0.1;
  data.train_file = write_temp("corpus.txt", text);
  const TextCorpus corpus = load_text_corpus(data);
  EXPECT_EQ(corpus.train + corpus.valid, text);  // nothing lost, nothing shared
  EXPECT_EQ(corpus.train.back(), '\n');          // cut at a line end
  EXPECT_NEAR(static_cast<double>(corpus.valid.size()), 0.1 * text.size(), 30);
  EXPECT_NE(corpus.valid_source.find("bytes " + std::to_string(corpus.train.size())),
            std::string::npos);

  data.train_file = "/nonexistent/corpus.txt";
  const std::string missing = error_of([&] { load_text_corpus(data); });
  // The message names the config key and the command that builds the default corpus.
  EXPECT_NE(missing.find("data.train_file = \"/nonexistent/corpus.txt\": no such file"),
            std::string::npos)
      << missing;
  EXPECT_NE(missing.find("scripts/text_corpus.py"), std::string::npos) << missing;
  data.train_file = write_temp("empty.txt", "");
  EXPECT_NE(error_of([&] { load_text_corpus(data); }).find("is empty"), std::string::npos);
  data.train_file = write_temp("short.txt", std::string(100, 'a'));
  const std::string shorter = error_of([&] { load_text_corpus(data); });
  EXPECT_NE(shorter.find("fewer than one window of data.seq_len + 1 = 17"), std::string::npos)
      << shorter;
}

TEST(Text, TrainingWindowsPredictEveryNextByteAndRepeatPerStep) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += static_cast<char>('a' + i % 26);
  const Batch b = text_batch(text, 8, 10, 7, 3, torch::kCPU);
  ASSERT_EQ(b.inputs.sizes(), torch::IntArrayRef({8, 10}));
  ASSERT_EQ(b.targets.sizes(), torch::IntArrayRef({8, 10}));
  // Every position has a target: the byte that follows it in the text.
  EXPECT_TRUE(torch::equal(b.targets.slice(1, 0, 9), b.inputs.slice(1, 1, 10)));
  for (int r = 0; r < 8; ++r) {
    const auto last = b.inputs[r][9].item<std::int64_t>(),
               next = b.targets[r][9].item<std::int64_t>();
    EXPECT_EQ((next - 'a' + 26) % 26, (last - 'a' + 1) % 26);
  }
  EXPECT_TRUE(torch::equal(b.inputs, text_batch(text, 8, 10, 7, 3, torch::kCPU).inputs));
  EXPECT_FALSE(torch::equal(b.inputs, text_batch(text, 8, 10, 7, 4, torch::kCPU).inputs));
}

TEST(Text, ValidationWindowsCoverTheTextInOrder) {
  const std::string text = "0123456789abcdefghij";  // 20 bytes
  const Batch all = text_windows(text, 4, 0, torch::kCPU);
  ASSERT_EQ(all.inputs.size(0), 4);  // offsets 0, 4, 8, 12; 16 + 4 would pass the end
  EXPECT_EQ(all.inputs[1][0].item<std::int64_t>(), '4');
  EXPECT_EQ(all.targets[3][3].item<std::int64_t>(), 'g');
  EXPECT_EQ(text_windows(text, 4, 2, torch::kCPU).inputs.size(0), 2);
}

}  // namespace
}  // namespace stars
