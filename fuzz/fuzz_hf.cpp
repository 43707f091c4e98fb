// Fuzzes the Hugging Face layout's JSON files: the first byte picks the file, the rest is
// its text. Even: model.safetensors.index.json (every file name must stay inside the
// model's directory). Odd: config.json (bit 1: whether the weights hold an exit gate);
// a config that reads must write back to a config.json that reads to the same settings.
#include <nlohmann/json.hpp>

#include "fuzz_contract.hpp"
#include "train/hf_layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  return stars::fuzz::check(data + 1, size - 1, [&](const std::string& text) {
    if (mode % 2 == 0) {
      for (const auto& [tensor, file] : stars::hf::read_index(text, "index.json"))
        if (file.empty() || file.find('/') != std::string::npos || file == "..") __builtin_trap();
      return;
    }
    const bool gate = mode & 2;
    const auto read = stars::hf::read_config(text, "config.json", gate);
    if (read.config.model.exit_gate != gate) __builtin_trap();
    const auto again = stars::hf::read_config(
        stars::hf::write_config(read.config, read.vocab_size, 4, "float32").dump(), "again", gate);
    if (nlohmann::json(again.config)["model"] != nlohmann::json(read.config)["model"] ||
        again.vocab_size != read.vocab_size)
      __builtin_trap();
  });
}
