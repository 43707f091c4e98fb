// stars-tokenize: the token ids of a text under a byte-level BPE tokenizer (tokenizer.json,
// or vocab.json + merges.txt), or the text of ids, so a tokenizer can be checked from the
// shell. Parses flags and hands over to stars::BpeTokenizer.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

struct Args {
  std::string tokenizer, file, text;
  bool decode = false, count = false, no_added = false, quiet = false;
};

std::string read_input(const Args& a) {
  if (!a.text.empty()) return a.text;
  std::ifstream file;
  if (a.file != "-") {
    file.open(a.file, std::ios::binary);
    if (!file) throw stars::DataError(a.file + ": cannot open the text file; check the path");
  }
  std::istream& in = a.file == "-" ? std::cin : file;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::int64_t> parse_ids(const std::string& text, const std::string& source) {
  std::vector<std::int64_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
    }
    if (used != word.size() || id < 0)
      throw stars::DataError(source + ": \"" + word +
                             "\" is not a token id; --decode reads ids separated by spaces");
    ids.push_back(id);
  }
  return ids;
}

int run(const Args& a) {
  const stars::BpeTokenizer tok = stars::BpeTokenizer::load(a.tokenizer);
  spdlog::info("{}: {}", a.tokenizer, tok.describe());
  const std::string input = read_input(a);
  const std::string source = a.text.empty() ? a.file : "--text";
  if (a.decode) {
    std::cout << tok.decode(parse_ids(input, source));
    return stars::kExitOk;
  }
  const std::vector<std::int64_t> ids = tok.encode(input, !a.no_added);
  if (a.count) {
    std::cout << ids.size() << "\n";
    return stars::kExitOk;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
  std::cout << "\n";
  return stars::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Token ids of a text under a byte-level BPE tokenizer, or the text of ids."};
  Args a;
  stars::tool::show_defaults(app);
  app.add_option("--tokenizer", a.tokenizer,
                 "tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt")
      ->required();
  auto* file = app.add_option("file", a.file, "text file to read ('-': standard input)");
  auto* text = app.add_option("--text", a.text, "the text itself, instead of a file");
  file->excludes(text);
  app.add_flag("--decode", a.decode, "read token ids (separated by spaces) and print their text");
  app.add_flag("--count", a.count, "print only the number of tokens");
  app.add_flag("--no-added", a.no_added,
               "encode added tokens written in the text (<|im_end|>, ...) as ordinary text");
  stars::tool::add_quiet_flag(app, a.quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-tokenize", argc, argv)) return *code;
  if (a.file.empty() && a.text.empty()) {
    std::cerr << "stars-tokenize: error: give a text file (or '-') or --text\n";
    return stars::kExitUsage;
  }
  return stars::run_cli("stars-tokenize", [&] {
    stars::tool::apply_quiet(a.quiet);
    return run(a);
  });
}
