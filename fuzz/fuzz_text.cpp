// Fuzzes the text corpus loader: the input is written to a file and read as the training
// text (UTF-8 check, the split at a line end, the window-length checks), then windows are
// drawn from both parts. Any byte string either loads or is refused with a DataError.
#include <unistd.h>
#include <fstream>

#include <torch/torch.h>

#include "fuzz_contract.hpp"
#include "stars/config/config.hpp"
#include "stars/data/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/stars-fuzz-" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  return stars::fuzz::check(data, size, [](const std::string& bytes) {
    stars::DataConfig cfg;
    cfg.task = "text";
    cfg.train_file = path;
    cfg.seq_len = 4;
    cfg.valid_fraction = bytes.empty() ? 0.5 : 0.05 + 0.45 * (bytes[0] & 7) / 7.0;
    const stars::TextCorpus corpus = stars::load_text_corpus(cfg);
    stars::text_batch(corpus.train, 2, cfg.seq_len, 1, 2, torch::kCPU);
    stars::text_windows(corpus.valid, cfg.seq_len, 0, torch::kCPU);
  });
}
