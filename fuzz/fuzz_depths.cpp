// Fuzzes the depth-spec parser ("1..8,12,16..64:8").
#include "fuzz_contract.hpp"
#include "stars/eval/depth_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return stars::fuzz::check(data, size, [](const std::string& text) {
    for (int d : stars::parse_depths(text))
      if (d < 0) __builtin_trap();  // a parsed depth is a loop count, never negative
  });
}
