#pragma once
// One wording for weights that do not fit the model built from a config, whichever file
// format they came from (a stars checkpoint or a safetensors file).
#include <string>

#include "stars/config/errors.hpp"

namespace stars {

/// What --init and --resume need of the file they read.
inline constexpr const char* kSameModelHint =
    "--init and --resume need the same model.* settings as the run that wrote the file (see "
    "its config.json)";

/// Throws "'ORIGIN' does not fit this model: WHAT; HINT".
[[noreturn]] inline void throw_weight_mismatch(const std::string& origin, const std::string& what,
                                               const std::string& hint) {
  throw DataError("'" + origin + "' does not fit this model: " + what + "; " + hint);
}

}  // namespace stars
