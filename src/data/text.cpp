#include "stars/data/text.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/util/rng.hpp"

namespace stars {
namespace {

/// Length of the UTF-8 sequence starting at bytes[i], or 0 if none starts there
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(const std::string& bytes, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char b = at(i);
  if (b < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b >= 0xC2 && b <= 0xDF)
    len = 2;
  else if (b == 0xE0)
    len = 3, lo = 0xA0;
  else if (b >= 0xE1 && b <= 0xEF)
    len = 3, hi = b == 0xED ? 0x9F : 0xBF;
  else if (b == 0xF0)
    len = 4, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3)
    len = 4;
  else if (b == 0xF4)
    len = 4, hi = 0x8F;
  else
    return 0;
  if (i + len > bytes.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  return len;
}

void require_window(const std::string& text, int seq_len, const std::string& what) {
  const auto need = static_cast<std::size_t>(seq_len) + 1;
  if (text.size() < need)
    throw DataError(what + " has " + std::to_string(text.size()) +
                    " bytes, fewer than one window of data.seq_len + 1 = " + std::to_string(need) +
                    "; give more text or lower data.seq_len");
}

/// Rows of `len` + 1 bytes starting at `offsets` as (inputs, targets).
Batch windows_at(const std::string& text, const std::vector<std::int64_t>& offsets, int len,
                 torch::Device device) {
  const auto rows = static_cast<std::int64_t>(offsets.size());
  auto bytes = torch::empty({rows, len + 1}, torch::kLong);
  auto acc = bytes.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < rows; ++r)
    for (int t = 0; t <= len; ++t)
      acc[r][t] = static_cast<unsigned char>(
          text[static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)] + t)]);
  using torch::indexing::Slice;
  return {bytes.index({Slice(), Slice(0, len)}).contiguous().to(device),
          bytes.index({Slice(), Slice(1, len + 1)}).contiguous().to(device)};
}

}  // namespace

bool is_text_task(const DataConfig& data) {
  return data.task == "text";
}

Tokenizer tokenizer_for(const DataConfig& data) {
  return is_text_task(data) ? Tokenizer::bytes() : Tokenizer::arithmetic();
}

void check_utf8(const std::string& bytes, const std::string& path) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = utf8_sequence_length(bytes, i);
    if (len == 0)
      throw DataError(path + ": byte " + std::to_string(i) + " (line " + std::to_string(line) +
                      ") is not valid UTF-8; convert the file first (for example with iconv -f "
                      "latin1 -t utf-8)");
    if (bytes[i] == '\n') ++line;
    i += len;
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the text file; check the path");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw DataError(path + ": the text file is empty");
  check_utf8(bytes, path);
  return bytes;
}

namespace {

/// Refuses a missing text file named by the config key `key`, saying how to get one.
void require_text_file(const std::string& path, const std::string& key) {
  if (std::filesystem::is_regular_file(path)) return;
  throw DataError(key + " = \"" + path +
                  "\": no such file. The default corpus, data/fortunes.txt, is built by "
                  "`python3 scripts/text_corpus.py` from the repository root (from Debian's "
                  "fortunes package; scripts/setup.sh installs it and builds the corpus); or "
                  "set " +
                  key + " to a UTF-8 text of your own (--set " + key +
                  "=FILE), or score another text with stars-eval --text FILE");
}

}  // namespace

TextCorpus load_text_corpus(const DataConfig& data) {
  TextCorpus corpus;
  require_text_file(data.train_file, "data.train_file");
  if (!data.valid_file.empty()) require_text_file(data.valid_file, "data.valid_file");
  corpus.train = read_text_file(data.train_file);
  corpus.train_source = data.train_file;
  if (!data.valid_file.empty()) {
    corpus.valid = read_text_file(data.valid_file);
    corpus.valid_source = data.valid_file;
  } else {  // the end of the file, from the first line start after the cut
    const auto size = corpus.train.size();
    auto cut = size - static_cast<std::size_t>(data.valid_fraction * static_cast<double>(size));
    const auto line_end = corpus.train.find('\n', cut);
    if (line_end != std::string::npos && line_end + 1 < size) cut = line_end + 1;
    corpus.valid = corpus.train.substr(cut);
    corpus.train.resize(cut);
    corpus.valid_source =
        data.train_file + " bytes " + std::to_string(cut) + ".." + std::to_string(size);
    corpus.train_source += " bytes 0.." + std::to_string(cut);
  }
  require_window(corpus.train, data.seq_len, "the training text (" + corpus.train_source + ")");
  require_window(corpus.valid, data.seq_len, "the validation text (" + corpus.valid_source + ")");
  return corpus;
}

Batch text_batch(const std::string& text, int n, int seq_len, std::uint64_t seed,
                 std::uint64_t step, torch::Device device) {
  require_window(text, seq_len, "the text");
  Rng rng(seed, step, RngStream::data);
  const auto last = static_cast<std::int64_t>(text.size()) - seq_len - 1;
  std::vector<std::int64_t> offsets;
  for (int i = 0; i < n; ++i) offsets.push_back(rng.uniform_int(0, last));
  return windows_at(text, offsets, seq_len, device);
}

Batch text_windows(const std::string& text, int seq_len, int max_windows, torch::Device device) {
  require_window(text, seq_len, "the text");
  std::vector<std::int64_t> offsets;
  const auto size = static_cast<std::int64_t>(text.size());
  for (std::int64_t at = 0; at + seq_len < size; at += seq_len) {
    if (max_windows > 0 && static_cast<int>(offsets.size()) == max_windows) break;
    offsets.push_back(at);
  }
  return windows_at(text, offsets, seq_len, device);
}

}  // namespace stars
