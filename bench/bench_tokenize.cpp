// bench-tokenize: byte-level BPE encoding and decoding speed on one thread, over a text file
// read whole (megabytes of UTF-8 per second). Prints one JSON line.
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/util/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Byte-level BPE encoding and decoding in MB/s."};
  std::string tokenizer, file;
  int repeats = 5;
  app.add_option("--tokenizer", tokenizer, "tokenizer.json or a tokenizer directory")->required();
  app.add_option("--file", file, "text to encode")->required();
  app.add_option("--repeats", repeats, "passes; the fastest is reported")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  return stars::run_cli("bench-tokenize", [&] {
    const stars::BpeTokenizer tok = stars::BpeTokenizer::load(tokenizer);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw stars::DataError(file + ": cannot open the text file; check the path");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    using clock = std::chrono::steady_clock;
    double encode_s = 1e30, decode_s = 1e30;
    std::size_t n_ids = 0;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = clock::now();
      const auto ids = tok.encode(text);
      auto t1 = clock::now();
      const std::string back = tok.decode(ids);
      auto t2 = clock::now();
      if (back != text) throw std::runtime_error("decode(encode(text)) differs from the text");
      n_ids = ids.size();
      encode_s = std::min(encode_s, std::chrono::duration<double>(t1 - t0).count());
      decode_s = std::min(decode_s, std::chrono::duration<double>(t2 - t1).count());
    }
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::cout << nlohmann::json{{"file", file},
                                {"bytes", text.size()},
                                {"tokens", n_ids},
                                {"encode_mb_per_s", mb / encode_s},
                                {"decode_mb_per_s", mb / decode_s},
                                {"repeats", repeats}}
                     .dump()
              << std::endl;
    return 0;
  });
}
