#pragma once
// The contract every parser is fuzzed against: any input either parses or throws one of
// stars' own error types, whose message the CLIs print with the right exit code. Any
// other exception escapes to libFuzzer and is reported as a crash, as are sanitizer
// findings (overflow, out-of-bounds, use-after-free, undefined behaviour).
#include <cstddef>
#include <cstdint>
#include <string>

#include "stars/config/errors.hpp"

namespace stars::fuzz {

template <class Parse>
int check(const std::uint8_t* data, std::size_t size, Parse parse) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    parse(text);
  } catch (const ConfigError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();  // an error must say something
  } catch (const DataError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}

}  // namespace stars::fuzz
