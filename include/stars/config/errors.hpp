#pragma once
// Error types whose class tells the CLIs which exit code to use.
#include <stdexcept>
#include <string>

namespace stars {

/// Bad configuration or usage: a key, a value, a flag (exit code 2).
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Bad input data: a JSONL file, a checkpoint (exit code 1 when found at run time).
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace stars
