// Reading byte-level BPE from Hugging Face's tokenizer.json, or GPT-2's vocab.json and
// merges.txt. What the reader does not implement is refused by name, never guessed.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/bpe_model.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/io/file_kind.hpp"

namespace stars {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// GPT-2's split pattern as tokenizer.json spells a Split pre-tokenizer's regex.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

json read_json(const std::string& path, const char* what) {
  FileKind kind = sniff_file_kind(path);
  if (kind == FileKind::missing) throw DataError(path + ": no such file (" + what + ")");
  if (kind != FileKind::json)
    throw DataError(path + ": expected " + what + " (JSON), found " + describe(kind));
  std::ifstream in(path, std::ios::binary);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw DataError(path + ": not valid JSON (" + e.what() + ")");
  }
}

[[noreturn]] void refuse(const std::string& where, const std::string& what) {
  throw DataError(where + ": " + what);
}

std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    refuse(where, "expected an object with a string \"type\"");
  return j["type"].get<std::string>();
}

std::string string_or_empty(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool flag(const json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) refuse(where + "." + key, "must be true or false");
  return j[key].get<bool>();
}

// One pre-tokenizer entry; `byte_level` is set once a ByteLevel step is seen.
void read_pre_step(const json& j, const std::string& where, bpe::PreTokenizer* pre,
                   bool* byte_level) {
  const std::string type = type_of(j, where);
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      refuse(where, "a Sequence needs a \"pretokenizers\" list");
    for (std::size_t i = 0; i < j["pretokenizers"].size(); ++i)
      read_pre_step(j["pretokenizers"][i], where + ".pretokenizers[" + std::to_string(i) + "]", pre,
                    byte_level);
  } else if (type == "ByteLevel") {
    *byte_level = true;
    pre->add_prefix_space = flag(j, "add_prefix_space", false, where);
    if (flag(j, "use_regex", true, where)) pre->steps.push_back(bpe::SplitStep::gpt2_pattern);
  } else if (type == "Digits") {
    pre->steps.push_back(flag(j, "individual_digits", false, where)
                             ? bpe::SplitStep::digits_individual
                             : bpe::SplitStep::digits_runs);
  } else if (type == "Split") {
    const json pattern = j.contains("pattern") ? j["pattern"] : json();
    if (string_or_empty(pattern, "Regex") != kGpt2Pattern ||
        string_or_empty(j, "behavior") != "Isolated" || flag(j, "invert", false, where))
      refuse(where, "a Split pre-tokenizer with pattern " + pattern.dump() + " (behavior " +
                        (j.contains("behavior") ? j["behavior"].dump() : "none") +
                        ") is not implemented; stars implements GPT-2's pattern, Isolated");
    pre->steps.push_back(bpe::SplitStep::gpt2_pattern);
  } else {
    refuse(where, "pre-tokenizer type \"" + type +
                      "\" is not implemented; stars reads ByteLevel, Digits, Split with "
                      "GPT-2's pattern, and Sequence of these");
  }
}

bpe::PreTokenizer read_pre_tokenizer(const json& root, const std::string& path) {
  bpe::PreTokenizer pre;
  bool byte_level = false;
  if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null())
    read_pre_step(root["pre_tokenizer"], path + ": pre_tokenizer", &pre, &byte_level);
  if (!byte_level)
    refuse(path + ": pre_tokenizer",
           "has no ByteLevel step; stars reads byte-level BPE (GPT-2's family) only");
  return pre;
}

void check_null_or_type(const json& root, const char* key, const std::set<std::string>& allowed,
                        const std::string& path) {
  if (!root.contains(key) || root[key].is_null()) return;
  const std::string where = path + ": " + key;
  const std::string type = type_of(root[key], where);
  if (!allowed.count(type))
    refuse(where, std::string(key) + " type \"" + type + "\" is not implemented" +
                      (allowed.empty() ? " (stars reads tokenizers without one)"
                                       : " (stars reads ByteLevel)"));
}

std::vector<AddedToken> read_added(const json& root, const std::string& path) {
  std::vector<AddedToken> out;
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return out;
  if (!root["added_tokens"].is_array()) refuse(path + ": added_tokens", "must be a list");
  for (std::size_t i = 0; i < root["added_tokens"].size(); ++i) {
    const json& t = root["added_tokens"][i];
    const std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
        !t.contains("content") || !t["content"].is_string())
      refuse(where, "needs an integer \"id\" and a string \"content\"");
    for (const char* key : {"single_word", "lstrip", "rstrip"})
      if (flag(t, key, false, where))
        refuse(where, std::string("\"") + key + "\": true is not implemented (token " +
                          t["content"].dump() + ")");
    out.push_back({t["content"].get<std::string>(), t["id"].get<std::int64_t>(),
                   flag(t, "special", false, where)});
  }
  return out;
}

void read_bpe_options(const json& model, const std::string& where) {
  if (type_of(model, where) != "BPE")
    refuse(where, "model type \"" + model["type"].get<std::string>() +
                      "\" is not implemented; stars reads byte-level BPE");
  if (model.contains("dropout") && !model["dropout"].is_null())
    refuse(where + ".dropout", "BPE dropout is not implemented (set it to null)");
  if (flag(model, "byte_fallback", false, where))
    refuse(where + ".byte_fallback",
           "byte_fallback is for sentencepiece-style BPE; not implemented");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      refuse(where + "." + key, "must be empty for byte-level BPE, got " + model[key].dump());
}

void add_merge_entry(bpe::ModelBuilder* b, const json& m, const std::string& where) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    auto space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
      refuse(where, "a merge is \"LEFT RIGHT\" (one space), got " + m.dump());
    b->add_merge(s.substr(0, space), s.substr(space + 1), where);
  } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    b->add_merge(m[0].get<std::string>(), m[1].get<std::string>(), where);
  } else {
    refuse(where, "a merge is \"LEFT RIGHT\" or [\"LEFT\", \"RIGHT\"], got " + m.dump());
  }
}

}  // namespace

BpeTokenizer BpeTokenizer::from_tokenizer_json(const std::string& path) {
  return from_tokenizer_json_value(read_json(path, "a tokenizer.json"), path);
}

BpeTokenizer BpeTokenizer::parse_tokenizer_json(std::string_view text, const std::string& name) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    refuse(name, std::string("not valid JSON (") + e.what() + ")");
  }
  return from_tokenizer_json_value(root, name);
}

BpeTokenizer BpeTokenizer::from_tokenizer_json_value(const nlohmann::json& root,
                                                     const std::string& path) {
  const bool tokenizer_like = root.is_object() && root.contains("model") &&
                              root["model"].is_object() && root["model"].contains("vocab");
  if (!tokenizer_like)
    refuse(path,
           std::string("expected a Hugging Face tokenizer.json (with model.vocab and "
                       "model.merges)") +
               (root.is_object() && root.contains("phases") ? "; this is a stars config" : ""));
  const json& model = root["model"];
  read_bpe_options(model, path + ": model");
  check_null_or_type(root, "normalizer", {}, path);
  check_null_or_type(root, "decoder", {"ByteLevel"}, path);
  bpe::ModelBuilder builder;
  std::set<std::string> added_contents;
  for (AddedToken& t : read_added(root, path)) {
    added_contents.insert(t.content);
    builder.add_added(std::move(t), path + ": added_tokens");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object())
    refuse(path + ": model.vocab", "must be an object of token -> id");
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer())
      refuse(path + ": model.vocab[\"" + token + "\"]", "must be an integer");
    if (added_contents.count(token)) continue;  // an added token is matched whole, not merged
    builder.add_vocab(token, id.get<std::int64_t>(), path + ": model.vocab");
  }
  if (!model.contains("merges") || !model["merges"].is_array())
    refuse(path + ": model.merges", "must be a list");
  for (std::size_t i = 0; i < model["merges"].size(); ++i)
    add_merge_entry(&builder, model["merges"][i],
                    path + ": model.merges[" + std::to_string(i) + "]");
  return BpeTokenizer(std::make_shared<bpe::Model>(
      builder.finish(read_pre_tokenizer(root, path),
                     flag(model, "ignore_merges", false, path + ": model"), path)));
}

BpeTokenizer BpeTokenizer::from_vocab_merges(const std::string& vocab_json,
                                             const std::string& merges_txt,
                                             const std::vector<std::string>& special_tokens) {
  return from_vocab_value(read_json(vocab_json, "a vocab.json"), vocab_json, merges_txt,
                          special_tokens);
}

BpeTokenizer BpeTokenizer::from_vocab_value(const json& vocab, const std::string& vocab_json,
                                            const std::string& merges_txt,
                                            const std::vector<std::string>& special_tokens) {
  if (!vocab.is_object()) refuse(vocab_json, "expected an object of token -> id");
  bpe::ModelBuilder builder;
  std::set<std::string> specials(special_tokens.begin(), special_tokens.end());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) refuse(vocab_json + ": \"" + token + "\"", "must be an integer");
    if (specials.erase(token))
      builder.add_added({token, id.get<std::int64_t>(), true}, vocab_json);
    else
      builder.add_vocab(token, id.get<std::int64_t>(), vocab_json);
  }
  if (!specials.empty())
    refuse(vocab_json, "special token \"" + *specials.begin() + "\" is not in the vocabulary");
  std::ifstream in(merges_txt, std::ios::binary);
  if (!in) refuse(merges_txt, "cannot open the merges file; check the path");
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    add_merge_entry(&builder, line, merges_txt + ":" + std::to_string(line_no));
  }
  bpe::PreTokenizer gpt2;
  gpt2.steps = {bpe::SplitStep::gpt2_pattern};
  return BpeTokenizer(std::make_shared<bpe::Model>(builder.finish(gpt2, false, vocab_json)));
}

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  FileKind kind = sniff_file_kind(path);
  if (kind != FileKind::directory) return from_tokenizer_json(path);
  const fs::path dir(path);
  if (fs::exists(dir / "tokenizer.json"))
    return from_tokenizer_json((dir / "tokenizer.json").string());
  if (!fs::exists(dir / "vocab.json") || !fs::exists(dir / "merges.txt"))
    refuse(path,
           "a tokenizer directory holds tokenizer.json, or vocab.json and merges.txt; "
           "found neither");
  // Special tokens: tokenizer_config.json's added_tokens_decoder where present, else GPT-2's.
  const std::string vocab_json = (dir / "vocab.json").string();
  const json vocab = read_json(vocab_json, "a vocab.json");
  std::vector<std::string> specials;
  const fs::path config = dir / "tokenizer_config.json";
  if (fs::exists(config)) {
    const json c = read_json(config.string(), "a tokenizer_config.json");
    if (c.contains("added_tokens_decoder") && c["added_tokens_decoder"].is_object())
      for (const auto& [id, t] : c["added_tokens_decoder"].items())
        if (t.is_object() && flag(t, "special", false, config.string()) &&
            !string_or_empty(t, "content").empty())
          specials.push_back(t["content"].get<std::string>());
  } else if (vocab.is_object() && vocab.contains("<|endoftext|>")) {
    specials.push_back("<|endoftext|>");
  }
  return from_vocab_value(vocab, vocab_json, (dir / "merges.txt").string(), specials);
}

}  // namespace stars
