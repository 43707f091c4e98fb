// Fuzzes `--set key.path=value`: each input line is one assignment on the default config.
#include <sstream>
#include <vector>

#include "fuzz_contract.hpp"
#include "stars/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return stars::fuzz::check(data, size, [](const std::string& text) {
    std::vector<std::string> assignments;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) assignments.push_back(line);
    stars::apply_overrides(stars::Config{}, assignments);
  });
}
