// Conversations as training data: the split, the right-padded batches whose targets are the
// assistant's tokens alone, what the length limit cuts and drops, refusals that name the
// line or the setting, and a chat run that learns (its validation loss falls) and keeps
// its tokenizer beside its config.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/train/trainer.hpp"
#include "test_support.hpp"

namespace stars {
namespace {
namespace fs = std::filesystem;

const std::string kTokenizer =
    std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/chatml-tiny/tokenizer.json";

const BpeTokenizer& tiny() {
  static const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  return tok;
}

/// `rows` sums as NuminaMath-shaped rows in a fresh file; returns its path.
std::string write_sums(const std::string& name, int rows, int first = 0) {
  const fs::path dir = fs::temp_directory_path() / "stars_chat_corpus_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream out(path);
  for (int i = first; i < first + rows; ++i) {
    const int a = (i * 7) % 10, b = (i * 3) % 10;
    out << R"({"problem": "What is )" << a << " + " << b << R"(?", "solution": ")" << a << " + "
        << b << " = " << a + b << R"(, so \\boxed{)" << a + b << "}.\"}\n";
  }
  return path.string();
}

DataConfig chat_data(const std::string& train_file, int seq_len = 64) {
  DataConfig d;
  d.task = "chat";
  d.train_file = train_file;
  d.tokenizer = kTokenizer;
  d.seq_len = seq_len;
  d.valid_fraction = 0.1;
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ChatCorpus, HoldsOutTheLastRowsAndTargetsOnlyTheAssistantsTokens) {
  const ChatCorpus corpus = load_chat_corpus(chat_data(write_sums("split.jsonl", 20)), tiny());
  ASSERT_EQ(corpus.train.size(), 18u);
  ASSERT_EQ(corpus.valid.size(), 2u);
  EXPECT_NE(corpus.valid_source.find("rows 19..20"), std::string::npos) << corpus.valid_source;
  EXPECT_EQ(corpus.rows_cut, 0u);
  const Batch b = chat_rows(corpus.valid, 0, corpus.pad_id, torch::kCPU);
  ASSERT_EQ(b.inputs.size(0), 2);
  // Row 19 is "What is 6 + 4?": its targets spell the answer and the end of the turn.
  std::vector<std::int64_t> learnt;
  for (std::int64_t t = 0; t < b.targets.size(1); ++t)
    if (b.targets[0][t].item<std::int64_t>() != kIgnoreIndex)
      learnt.push_back(b.targets[0][t].item<std::int64_t>());
  EXPECT_EQ(tiny().decode(learnt), "6 + 4 = 10, so \\boxed{10}.<|im_end|>");
  // Each target is the next input token (the shift), and padding is never a target.
  const auto& row = corpus.valid[0].ids;
  for (std::size_t t = 0; t + 1 < row.size(); ++t)
    EXPECT_EQ(b.inputs[0][static_cast<std::int64_t>(t)].item<std::int64_t>(), row[t]);
}

TEST(ChatCorpus, BatchesRepeatForTheirStreamAndPadOnTheRight) {
  const ChatCorpus corpus = load_chat_corpus(chat_data(write_sums("draw.jsonl", 30)), tiny());
  const Batch a = chat_batch(corpus.train, 8, 1, 5, corpus.pad_id, torch::kCPU);
  const Batch again = chat_batch(corpus.train, 8, 1, 5, corpus.pad_id, torch::kCPU);
  const Batch other = chat_batch(corpus.train, 8, 1, 6, corpus.pad_id, torch::kCPU);
  EXPECT_TRUE(torch::equal(a.inputs, again.inputs));
  EXPECT_FALSE(a.inputs.sizes() == other.inputs.sizes() && torch::equal(a.inputs, other.inputs));
  // Right padding: once a row's targets end, only padding follows.
  for (std::int64_t r = 0; r < a.inputs.size(0); ++r) {
    const auto last = a.targets[r].ne(kIgnoreIndex).nonzero().max().item<std::int64_t>();
    for (std::int64_t t = last + 1; t < a.inputs.size(1); ++t)
      EXPECT_EQ(a.inputs[r][t].item<std::int64_t>(), corpus.pad_id);
  }
}

TEST(ChatCorpus, CountsWhatTheLengthLimitCutsAndRefusesWhenNothingIsLeft) {
  const std::string file = write_sums("cut.jsonl", 20);
  std::vector<std::size_t> lengths;
  for (const Conversation& row : load_chat_jsonl(file))
    lengths.push_back(tokenize_chat(row, tiny(), {}).ids.size());
  const std::size_t limit = *std::min_element(lengths.begin(), lengths.end()) - 3;
  std::size_t expected_cut = 0;
  for (std::size_t n : lengths) expected_cut += n - limit;
  // A limit inside the answer cuts every row but keeps its first answer tokens.
  const ChatCorpus cut = load_chat_corpus(chat_data(file, static_cast<int>(limit)), tiny());
  EXPECT_EQ(cut.rows_cut, 20u);
  EXPECT_EQ(cut.tokens_cut, expected_cut);
  EXPECT_EQ(cut.rows_dropped, 0u);
  for (const TokenizedChat& row : cut.train) EXPECT_EQ(row.ids.size(), limit);
  // A limit before the answer leaves nothing to learn: refused, naming the setting.
  const std::string why = error_of([&] { load_chat_corpus(chat_data(file, 6), tiny()); });
  EXPECT_NE(why.find("data.seq_len = 6"), std::string::npos) << why;
}

TEST(ChatCorpus, RefusesBadRowsByLineAndAMissingTokenizerBySetting) {
  const std::string file = write_sums("bad.jsonl", 4);
  std::ofstream(file, std::ios::app) << "{\"problem\": \"1+1?\"}\n";
  const std::string why = error_of([&] { load_chat_corpus(chat_data(file), tiny()); });
  EXPECT_NE(why.find("bad.jsonl:5"), std::string::npos) << why;
  DataConfig no_tokenizer = chat_data(file);
  no_tokenizer.tokenizer = "";
  const std::string missing = error_of([&] { load_chat_tokenizer(no_tokenizer); });
  EXPECT_NE(missing.find("data.tokenizer is empty"), std::string::npos) << missing;
  const std::string one =
      error_of([&] { load_chat_corpus(chat_data(write_sums("one.jsonl", 1)), tiny()); });
  EXPECT_NE(one.find("too few to hold any out"), std::string::npos) << one;
}

TEST(ChatCorpus, ReadsTheDefaultSystemMessageOfAChatMLTemplateAndRefusesOthers) {
  const fs::path dir = fs::temp_directory_path() / "stars_chat_corpus_test" / "template";
  fs::create_directories(dir);
  fs::copy_file(kTokenizer, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  const auto write_config = [&](const nlohmann::json& config) {
    std::ofstream(dir / "tokenizer_config.json") << config.dump();
  };
  // Qwen's shape: the first system literal splices the message in; the second is the default.
  write_config({{"chat_template",
                 "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
                 "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- "
                 "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif "
                 "%}{%- for m in messages %}<|im_start|>{{ m.role }}{%- endfor %}"}});
  EXPECT_EQ(chat_template_for(dir.string(), "").system, "You are a helpful assistant.");
  EXPECT_EQ(chat_template_for(dir.string(), "Be brief.").system, "Be brief.");
  write_config(
      {{"chat_template", "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"}});
  const std::string why = error_of([&] { chat_template_for(dir.string(), ""); });
  EXPECT_NE(why.find("is not ChatML"), std::string::npos) << why;
  write_config({{"model_max_length", 2048}});  // no template: ChatML, no system turn
  EXPECT_EQ(chat_template_for(dir.string(), "").system, "");
}

TEST(ChatTraining, LearnsTheAnswersAndKeepsItsTokenizer) {
  Config c = testing::tiny_training_config(120);
  c.phases[0].lr = 1e-2;
  c.model = testing::ouro_tiny_model();
  c.model.max_len = 64;
  c.data = chat_data(write_sums("train.jsonl", 200));
  c.train.batch = 16;
  c.eval.batch = 64;
  c.phases[0].loops.max = 3;
  const fs::path out = fs::temp_directory_path() / "stars_chat_corpus_test" / "run";
  fs::remove_all(out);
  TrainerOptions o;
  o.out_dir = out.string();
  o.final_sweep = false;
  Trainer trainer(c, o, torch::kCPU);
  EXPECT_EQ(trainer.eval_metric(), "bits_per_token");
  EXPECT_EQ(trainer.model()->tok_emb->weight.size(0), tiny().vocab_size());
  const double before = trainer.evaluate({2}, 20).at(2);
  trainer.run();
  const double after = trainer.evaluate({2}, 20).at(2);
  EXPECT_LT(after, 0.4 * before) << "bits per answer token " << before << " -> " << after;
  // The run directory can be evaluated alone: its tokenizer is the one trained with.
  const BpeTokenizer copied = BpeTokenizer::load(out.string());
  EXPECT_EQ(copied.encode("What is 1 + 2?"), tiny().encode("What is 1 + 2?"));
}

}  // namespace
}  // namespace stars
