// Fuzzes the JSONL loader: the input is written to a file and loaded line by line.
#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "fuzz_contract.hpp"
#include "stars/data/jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/stars-fuzz-" + std::to_string(getpid()) + ".jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  return stars::fuzz::check(data, size, [](const std::string&) { stars::load_jsonl(path); });
}
