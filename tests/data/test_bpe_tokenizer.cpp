// Byte-level BPE: token ids identical to js-tiktoken's GPT-2 encoder on a corpus of over
// 1 MB (tests/fixtures/bpe/gpt2, made by scripts/bpe/gpt2_fixture.sh), the same tokenizer
// read from tokenizer.json, added tokens, pre-tokenizer options, round trips of any bytes,
// and each refusal naming what it refuses.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"

namespace {

using nlohmann::json;
using stars::BpeTokenizer;
namespace fs = std::filesystem;

const std::string kFixture = std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/gpt2";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::int64_t> read_ids(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::int64_t> ids;
  for (std::int64_t id; in >> id;) ids.push_back(id);
  return ids;
}

const BpeTokenizer& gpt2() {
  static const BpeTokenizer tok = BpeTokenizer::load(kFixture);
  return tok;
}

// GPT-2 as a Hugging Face tokenizer.json: the fixture's vocabulary and merges (every other
// merge in the [left, right] form newer files use), ChatML's tokens added, and `edit`
// applied last.
json gpt2_tokenizer_json(const std::function<void(json&)>& edit = {}) {
  json vocab = json::parse(read_file(kFixture + "/vocab.json"));
  json merges = json::array();
  std::istringstream lines(read_file(kFixture + "/merges.txt"));
  std::string line;
  std::getline(lines, line);  // #version
  for (int i = 0; std::getline(lines, line); ++i) {
    if (line.empty()) continue;
    auto space = line.find(' ');
    if (i % 2)
      merges.push_back(json::array({line.substr(0, space), line.substr(space + 1)}));
    else
      merges.push_back(line);
  }
  vocab["<|im_start|>"] = 50257;
  vocab["<|im_end|>"] = 50258;
  json added = json::array();
  for (auto [text, id] : {std::pair<const char*, int>{"<|endoftext|>", 50256},
                          {"<|im_start|>", 50257},
                          {"<|im_end|>", 50258}})
    added.push_back({{"id", id},
                     {"content", text},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  json j = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  if (edit) edit(j);
  return j;
}

std::string write_json(const json& j, const std::string& name) {
  const auto path = (fs::temp_directory_path() / name).string();
  std::ofstream(path) << j.dump();
  return path;
}

BpeTokenizer load_json(const json& j, const std::string& name = "stars_bpe_tokenizer.json") {
  return BpeTokenizer::from_tokenizer_json(write_json(j, name));
}

std::string refusal(const json& j) {
  try {
    load_json(j, "stars_bpe_refused.json");
  } catch (const stars::DataError& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(BpeTokenizer, Gpt2IdsEqualJsTiktokenOnOverAMegabyte) {
  const std::string corpus = read_file(kFixture + "/corpus.txt");
  const std::vector<std::int64_t> want = read_ids(kFixture + "/ids.txt");
  ASSERT_GE(corpus.size(), 1'000'000u);
  ASSERT_GT(want.size(), 400'000u);
  const std::vector<std::int64_t> ids = gpt2().encode(corpus);
  ASSERT_EQ(ids.size(), want.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    ASSERT_EQ(ids[i], want[i]) << "first difference at token " << i;
  EXPECT_EQ(gpt2().decode(ids), corpus);
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  EXPECT_EQ(gpt2().merge_count(), 50000);
}

TEST(BpeTokenizer, TokenizerJsonGivesTheSameIdsAndMatchesChatTokens) {
  const BpeTokenizer tok = load_json(gpt2_tokenizer_json());
  const std::string corpus = read_file(kFixture + "/corpus.txt").substr(0, 200'000);
  EXPECT_EQ(tok.encode(corpus), gpt2().encode(corpus));

  const std::string chat = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
  const std::vector<std::int64_t> ids = tok.encode(chat);
  EXPECT_EQ(ids.front(), 50257);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50258), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50257), 2);
  EXPECT_EQ(tok.decode(ids), chat);
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "user\nWhat is 2+2?\nassistant\n");
  // Untrusted text cannot inject an end of turn.
  const std::vector<std::int64_t> plain = tok.encode(chat, /*parse_added=*/false);
  EXPECT_TRUE(std::all_of(plain.begin(), plain.end(), [](std::int64_t id) { return id < 50256; }));
  EXPECT_EQ(tok.decode(plain), chat);
  EXPECT_EQ(tok.id_of("<|im_end|>"), 50258);
  EXPECT_EQ(tok.vocab_size(), 50259);
}

TEST(BpeTokenizer, RoundTripsAnyBytesAndAnyCodePoints) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s;
    const int n = static_cast<int>(rng() % 64);
    for (int i = 0; i < n; ++i) {
      if (trial % 2) {
        s.push_back(static_cast<char>(rng() % 256));  // arbitrary bytes, invalid UTF-8 too
      } else {
        char32_t cp = rng() % 4 == 0 ? rng() % 0x110000 : rng() % 0x3000;
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = ' ';
        if (cp < 0x80) {
          s.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          s += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        } else if (cp < 0x10000) {
          s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<char>(0x80 | (cp & 0x3F))};
        } else {
          s +=
              {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
               static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
        }
      }
    }
    ASSERT_EQ(gpt2().decode(gpt2().encode(s)), s) << "trial " << trial;
  }
}

TEST(BpeTokenizer, DigitsApartAndPrefixSpaceFollowTheirPreTokenizers) {
  const BpeTokenizer digits = load_json(gpt2_tokenizer_json([](json& j) {
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Digits"}, {"individual_digits", true}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
  }));
  const std::vector<std::int64_t> one_by_one = digits.encode("in 2026");
  ASSERT_EQ(one_by_one.size(), 6u);  // "in", " ", "2", "0", "2", "6"
  for (int i = 2; i < 6; ++i) EXPECT_EQ(digits.decode({one_by_one[i]}).size(), 1u);
  EXPECT_LT(gpt2().encode("in 2026").size(), one_by_one.size());  // GPT-2 merges the year

  const BpeTokenizer prefixed = load_json(
      gpt2_tokenizer_json([](json& j) { j["pre_tokenizer"]["add_prefix_space"] = true; }));
  EXPECT_EQ(prefixed.encode("hello world"), gpt2().encode(" hello world"));
  EXPECT_EQ(prefixed.encode(" hello"), gpt2().encode(" hello"));
}

TEST(BpeTokenizer, IgnoreMergesTakesAWholeTokenFirst) {
  // "ĠCompan" + "y" style: a vocabulary entry the merges cannot reach from its bytes.
  auto edit = [](bool ignore) {
    return [ignore](json& j) {
      j["model"]["vocab"]["zqxj"] = 50259;
      j["model"]["ignore_merges"] = ignore;
    };
  };
  const std::vector<std::int64_t> merged =
      load_json(gpt2_tokenizer_json(edit(false))).encode("zqxj");
  const std::vector<std::int64_t> whole = load_json(gpt2_tokenizer_json(edit(true))).encode("zqxj");
  EXPECT_GT(merged.size(), 1u);
  EXPECT_EQ(whole, std::vector<std::int64_t>{50259});
}

TEST(BpeTokenizer, RefusesWhatItDoesNotImplementByName) {
  struct Case {
    std::function<void(json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["model"]["type"] = "WordPiece"; },
       "model type \"WordPiece\" is not implemented"},
      {[](json& j) {
         j["normalizer"] = {{"type", "NFC"}};
       },
       "normalizer type \"NFC\""},
      {[](json& j) {
         j["decoder"] = {{"type", "Metaspace"}};
       },
       "decoder type \"Metaspace\""},
      {[](json& j) {
         j["pre_tokenizer"] = {{"type", "Whitespace"}};
       },
       "pre_tokenizer: pre-tokenizer type \"Whitespace\" is not implemented"},
      {[](json& j) {
         j["pre_tokenizer"] = {
             {"type", "Split"}, {"pattern", {{"Regex", "\\p{N}{1,3}"}}}, {"behavior", "Isolated"}};
       },
       "\\\\p{N}{1,3}"},
      {[](json& j) {
         j["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}};
       },
       "has no ByteLevel step"},
      {[](json& j) { j["added_tokens"][1]["lstrip"] = true; },
       "added_tokens[1]: \"lstrip\": true is not implemented (token \"<|im_start|>\")"},
      {[](json& j) { j["model"]["dropout"] = 0.1; }, "model.dropout"},
      {[](json& j) { j["model"]["vocab"].erase("\u0100"); }, "byte 0 has no token"},
      {[](json& j) { j["model"]["merges"][5] = "Ġthe zzzunknown"; },
       "model.merges[5]: \"zzzunknown\" is not in the vocabulary"},
      {[](json& j) { j["model"]["merges"][6] = "onlyone"; }, "model.merges[6]: a merge is"},
      {[](json& j) { j["model"]["vocab"]["two words"] = 60000; },
       "\"two words\" is not byte-level"},
      {[](json& j) { j["model"]["vocab"]["Ġthe"] = 11; }, "token id 11 is given to two tokens"},
  };
  for (const Case& c : cases) {
    const std::string message = refusal(gpt2_tokenizer_json(c.edit));
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_NE(message.find("stars_bpe_refused.json"), std::string::npos) << message;
  }
}

TEST(BpeTokenizer, NamesAFileOfTheWrongKindAndAnIdOutsideTheVocabulary) {
  const auto config = std::string(STARS_SOURCE_DIR) + "/configs/quick.json";
  try {
    BpeTokenizer::load(std::string(STARS_SOURCE_DIR) + "/README.md");
    FAIL() << "a Markdown file loaded as a tokenizer";
  } catch (const stars::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("found a text file"), std::string::npos) << e.what();
  }
  try {
    BpeTokenizer::load(config);
    FAIL() << "a stars config loaded as a tokenizer";
  } catch (const stars::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("expected a Hugging Face tokenizer.json"),
              std::string::npos)
        << e.what();
  }
  try {
    BpeTokenizer::load(std::string(STARS_SOURCE_DIR) + "/configs");
    FAIL() << "a directory without tokenizer files loaded";
  } catch (const stars::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("found neither"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gpt2().decode({50257}), stars::DataError);
  EXPECT_THROW(gpt2().decode({-1}), stars::DataError);
}

}  // namespace
