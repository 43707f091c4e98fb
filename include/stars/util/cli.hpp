#pragma once
// Shared pieces of the command-line tools: exit codes, error reporting, signals, logging.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "stars/util/stop_signals.hpp"

namespace stars {

/// Exit codes: 0 success, 1 a failure while running, 2 anything the user gave wrong (a flag,
/// a config, a named file that is missing, of the wrong kind or damaged).
enum ExitCode : int { kExitOk = 0, kExitRuntime = 1, kExitUsage = 2 };

/// Runs `body` (after retain_freed_memory()), turning exceptions into a one-paragraph message on
/// stderr and an exit code.
int run_cli(const std::string& program, const std::function<int()>& body);

/// The command that resumes `run_dir`, as it can be typed: this stars-train's own path
/// (e.g. ./build/apps/stars-train --resume runs/x), or `stars-train` from another program.
std::string resume_command(const std::string& run_dir);

/// The name in `names` that `typed` most likely meant ("max-new" -> "max-tokens", "depth" ->
/// "depths"), or "" when none is close: a shared prefix of 4 or more characters, or an edit
/// distance of at most a third of the name (2 at least).
std::string nearest_name(const std::string& typed, const std::vector<std::string>& names);

/// Prints "depth  accuracy" rows to stdout.
void print_accuracy_table(const std::map<int, double>& accuracy,
                          const std::string& column = "accuracy");

}  // namespace stars
