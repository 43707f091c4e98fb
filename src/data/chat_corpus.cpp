#include "stars/data/chat_corpus.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/util/rng.hpp"

namespace stars {
namespace fs = std::filesystem;

bool is_chat_task(const DataConfig& data) {
  return data.task == "chat";
}

BpeTokenizer load_chat_tokenizer(const DataConfig& data) {
  if (data.tokenizer.empty())
    throw ConfigError(
        "data.tokenizer is empty: data.task = chat needs a byte-level BPE (a tokenizer.json, "
        "or the model directory holding one); `python3 scripts/train_bpe.py TEXT --vocab-size "
        "N --out tokenizer.json` makes one");
  return BpeTokenizer::load(data.tokenizer);
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  const auto copy = [&](const fs::path& file) {
    fs::copy_file(file, fs::path(to) / file.filename(), fs::copy_options::overwrite_existing);
  };
  if (!fs::is_directory(from)) {
    fs::copy_file(from, fs::path(to) / "tokenizer.json", fs::copy_options::overwrite_existing);
    return;
  }
  const fs::path dir(from);
  if (fs::exists(dir / "tokenizer.json")) {
    copy(dir / "tokenizer.json");
  } else {
    copy(dir / "vocab.json");
    copy(dir / "merges.txt");
  }
  // The chat template and special tokens of a model directory travel with it.
  if (fs::exists(dir / "tokenizer_config.json")) copy(dir / "tokenizer_config.json");
}

namespace {

/// The default system message a ChatML template writes as a literal ("" when none): the
/// first "<|im_start|>system" + newline + text + "<|im_end|>" whose text is plain, not a
/// message's content spliced in.
std::string default_system_message(const std::string& tmpl) {
  const std::string start = "<|im_start|>system", end = "<|im_end|>";
  for (std::size_t at = tmpl.find(start); at != std::string::npos; at = tmpl.find(start, at + 1)) {
    std::size_t text = at + start.size();
    if (tmpl.compare(text, 2, "\\n") == 0)  // written \n inside a Jinja string
      text += 2;
    else if (tmpl.compare(text, 1, "\n") == 0)
      text += 1;
    else
      continue;
    const std::size_t stop = tmpl.find(end, text);
    if (stop == std::string::npos) break;
    const std::string message = tmpl.substr(text, stop - text);
    if (!message.empty() && message.find_first_of("'\"{}+") == std::string::npos) return message;
  }
  return "";
}

}  // namespace

ChatTemplate chat_template_for(const std::string& tokenizer, const std::string& system) {
  ChatTemplate chat{system};
  const fs::path dir =
      fs::is_directory(tokenizer) ? fs::path(tokenizer) : fs::absolute(tokenizer).parent_path();
  const fs::path file = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(file)) return chat;
  std::ifstream in(file, std::ios::binary);
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    throw DataError(file.string() + ": not a JSON object; a tokenizer_config.json is one");
  if (!config.contains("chat_template")) return chat;
  const nlohmann::json& t = config["chat_template"];
  std::string tmpl;
  if (t.is_string()) tmpl = t.get<std::string>();
  if (t.is_array())  // named templates: the default one
    for (const auto& named : t)
      if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
          named["template"].is_string())
        tmpl = named["template"].get<std::string>();
  if (tmpl.find("<|im_start|>") == std::string::npos ||
      tmpl.find("<|im_end|>") == std::string::npos)
    throw DataError(file.string() +
                    ": its chat_template is not ChatML (it writes no <|im_start|> and "
                    "<|im_end|>); stars renders conversations with ChatML only");
  if (system.empty()) chat.system = default_system_message(tmpl);
  return chat;
}

std::string find_model_tokenizer(const std::string& checkpoint) {
  const auto holds_tokenizer = [](const fs::path& dir) {
    return fs::is_regular_file(dir / "tokenizer.json") ||
           (fs::is_regular_file(dir / "vocab.json") && fs::is_regular_file(dir / "merges.txt"));
  };
  fs::path dir =
      fs::is_directory(checkpoint) ? fs::path(checkpoint) : fs::absolute(checkpoint).parent_path();
  for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path())
    if (holds_tokenizer(dir)) return dir.string();
  return "";
}

std::string chat_model_tokenizer(const std::string& checkpoint, const DataConfig& data,
                                 const std::string& given) {
  if (!given.empty()) return given;
  const std::string saved = find_model_tokenizer(checkpoint);
  return saved.empty() ? data.tokenizer : saved;
}

std::int64_t chat_model_vocab_size(const std::string& path, const DataConfig& data) {
  const std::string tokenizer = chat_model_tokenizer(path, data);
  if (tokenizer.empty())
    throw DataError("'" + path +
                    "': a chat model, but no tokenizer is saved beside it and its config names "
                    "none (data.tokenizer); put the tokenizer.json it was trained with into its "
                    "directory");
  return BpeTokenizer::load(tokenizer).vocab_size();
}

namespace {

/// Tokenizes `rows` into `out`, counting what the length limit cut and dropping rows the
/// cut left without an assistant token (they would train nothing).
void tokenize_rows(const std::vector<Conversation>& rows, const BpeTokenizer& tok,
                   const ChatTemplate& tmpl, std::size_t max_tokens, ChatCorpus& corpus,
                   std::vector<TokenizedChat>& out) {
  for (const Conversation& row : rows) {
    TokenizedChat t = tokenize_chat(row, tok, tmpl, max_tokens);
    if (t.cut > 0) ++corpus.rows_cut, corpus.tokens_cut += t.cut;
    // The first token is never a target: an answer token must come after it.
    if (std::find(t.in_loss.begin() + 1, t.in_loss.end(), 1) == t.in_loss.end()) {
      ++corpus.rows_dropped;
      continue;
    }
    out.push_back(std::move(t));
  }
}

void require_rows(const std::vector<TokenizedChat>& rows, const std::string& what,
                  const DataConfig& data) {
  if (!rows.empty()) return;
  throw DataError(what + " holds no conversation with an assistant token within data.seq_len = " +
                  std::to_string(data.seq_len) +
                  " tokens; give more rows, raise data.seq_len, or change data.valid_fraction");
}

std::string rows_range(const std::string& path, std::size_t begin, std::size_t end) {
  return path + " rows " + std::to_string(begin + 1) + ".." + std::to_string(end);
}

}  // namespace

ChatCorpus load_chat_corpus(const DataConfig& data, const BpeTokenizer& tok) {
  ChatCorpus corpus;
  const ChatTemplate tmpl = chat_template_for(data.tokenizer, data.system);
  const auto max_tokens = static_cast<std::size_t>(data.seq_len);
  std::vector<Conversation> train = load_chat_jsonl(data.train_file), valid;
  corpus.train_source = data.train_file;
  if (!data.valid_file.empty()) {
    valid = load_chat_jsonl(data.valid_file);
    corpus.valid_source = data.valid_file;
  } else {  // the last rows
    const std::size_t n = train.size();
    const auto held = std::max<std::size_t>(
        1, static_cast<std::size_t>(data.valid_fraction * static_cast<double>(n)));
    if (held >= n)
      throw DataError(data.train_file + " has " + std::to_string(n) +
                      " conversation(s): too few to hold any out for validation; give "
                      "data.valid_file or more rows");
    valid.assign(train.end() - static_cast<std::ptrdiff_t>(held), train.end());
    train.resize(n - held);
    corpus.train_source = rows_range(data.train_file, 0, n - held);
    corpus.valid_source = rows_range(data.train_file, n - held, n);
  }
  tokenize_rows(train, tok, tmpl, max_tokens, corpus, corpus.train);
  tokenize_rows(valid, tok, tmpl, max_tokens, corpus, corpus.valid);
  require_rows(corpus.train, "the training data (" + corpus.train_source + ")", data);
  require_rows(corpus.valid, "the validation data (" + corpus.valid_source + ")", data);
  corpus.pad_id = *tok.id_of("<|im_end|>");  // tokenize_chat has required it
  return corpus;
}

namespace {

Batch pad_rows(const std::vector<const TokenizedChat*>& rows, std::int64_t pad_id,
               torch::Device device) {
  std::size_t longest = 0;
  for (const TokenizedChat* r : rows) longest = std::max(longest, r->ids.size());
  const auto n = static_cast<std::int64_t>(rows.size());
  const auto len = static_cast<std::int64_t>(longest) - 1;
  auto inputs = torch::full({n, len}, pad_id, torch::kLong);
  auto targets = torch::full({n, len}, kIgnoreIndex, torch::kLong);
  auto in = inputs.accessor<std::int64_t, 2>();
  auto out = targets.accessor<std::int64_t, 2>();
  for (std::int64_t b = 0; b < n; ++b) {
    const TokenizedChat& r = *rows[static_cast<std::size_t>(b)];
    for (std::size_t t = 0; t + 1 < r.ids.size(); ++t) {
      in[b][static_cast<std::int64_t>(t)] = r.ids[t];
      if (r.in_loss[t + 1]) out[b][static_cast<std::int64_t>(t)] = r.ids[t + 1];
    }
  }
  return {inputs.to(device), targets.to(device)};
}

}  // namespace

Batch chat_batch(const std::vector<TokenizedChat>& rows, int n, std::uint64_t seed,
                 std::uint64_t step, std::int64_t pad_id, torch::Device device) {
  if (rows.empty()) throw DataError("chat_batch: no conversations to draw from");
  Rng rng(seed, step, RngStream::data);
  std::vector<const TokenizedChat*> picked;
  const auto last = static_cast<std::int64_t>(rows.size()) - 1;
  for (int i = 0; i < n; ++i)
    picked.push_back(&rows[static_cast<std::size_t>(rng.uniform_int(0, last))]);
  return pad_rows(picked, pad_id, device);
}

Batch chat_rows(const std::vector<TokenizedChat>& rows, int max_rows, std::int64_t pad_id,
                torch::Device device) {
  std::vector<const TokenizedChat*> picked;
  for (const TokenizedChat& r : rows) {
    if (max_rows > 0 && static_cast<int>(picked.size()) == max_rows) break;
    picked.push_back(&r);
  }
  if (picked.empty()) throw DataError("chat_rows: no conversations to lay out");
  return pad_rows(picked, pad_id, device);
}

}  // namespace stars
