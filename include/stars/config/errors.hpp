#pragma once
// Error types whose class tells the CLIs which exit code to use. One rule for every tool:
// exit 2 for anything the user gave wrong (ConfigError, DataError), exit 1 for a failure
// while running (any other exception: a write that fails, a diverged run, a lost rank).
#include <stdexcept>
#include <string>

namespace stars {

/// Bad configuration or usage: a key, a value, a flag (exit code 2).
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A named input that is missing, of the wrong kind or damaged: a JSONL or text file, a
/// checkpoint, a safetensors file (exit code 2, like ConfigError).
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace stars
