// Fuzzes the checkpoint and model loader: the input is the bytes of a model.pt. Its checksum
// is written beside it to match, so that every input reaches the archive reader and what
// follows it (the config inside, the step, the weights and their shapes); the checksum
// itself is fuzzed by its own test (cli.eval_bad_checkpoints). The run directory's
// config.json goes through the config reader, fuzzed by fuzz_config.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "fuzz_contract.hpp"
#include "stars/train/checkpoint.hpp"

namespace {

std::string scratch_file() {
  static const std::string path = [] {
    char dir[] = "/tmp/stars-fuzz-checkpoint-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    return std::string(dir) + "/model.pt";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_file();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::ofstream(stars::checksum_path(path), std::ios::trunc) << stars::file_checksum(path) << "\n";
  return stars::fuzz::check(data, size, [&](const std::string&) {
    stars::LoadedModel loaded = stars::load_model(path, torch::kCPU);
    // A model that loads must run: its weights fit its config.
    const auto out = loaded.model->forward(torch::tensor({{1, 2, 3}}, torch::kLong), 2);
    if (out.logits.size(2) != loaded.model->vocab_size()) __builtin_trap();
  });
}
