#include "stars/util/cli.hpp"
#include "stars/util/memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "stars/config/errors.hpp"
#include "stars/kernels/cpu_gemm.hpp"

namespace stars {
namespace {

/// Environment settings the tools read, refused before any work starts.
void check_environment() {
  try {
    cpu_gemm_from_environment();
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
}

}  // namespace

int run_cli(const std::string& program, const std::function<int()>& body) {
  retain_freed_memory();  // every tool allocates the same tensor sizes step after step
  // Log lines go to stderr, results (tables, JSON) to stdout, so `2>/dev/null` or `> file`
  // keeps the results alone.
  static const bool logs_on_stderr = [] {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
    return true;
  }();
  (void)logs_on_stderr;
  try {
    check_environment();
    return body();
  } catch (const ConfigError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const DataError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const c10::Error& e) {
    std::cerr << program << ": LibTorch error: " << e.what_without_backtrace() << "\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitRuntime;
  }
}

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

std::size_t common_prefix(const std::string& a, const std::string& b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

std::string nearest_name(const std::string& typed, const std::vector<std::string>& names) {
  std::string best;
  long best_score = 0;
  for (const auto& name : names) {
    const auto distance = static_cast<long>(edit_distance(typed, name));
    const auto prefix = static_cast<long>(common_prefix(typed, name));
    const long allowed = std::max<long>(2, static_cast<long>(typed.size()) / 3);
    if (distance > allowed && prefix < 4) continue;
    const long score = distance - prefix;  // a shared start counts for more than the tail
    if (best.empty() || score < best_score) best = name, best_score = score;
  }
  return best;
}

void print_accuracy_table(const std::map<int, double>& accuracy, const std::string& column) {
  std::printf("%6s  %8s\n", "depth", column.c_str());
  for (const auto& [depth, acc] : accuracy) std::printf("%6d  %8.4f\n", depth, acc);
  std::fflush(stdout);
}

std::string resume_command(const std::string& run_dir) {
  // As typed from the current directory: a path relative to it when the tool lives below it.
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string program = "stars-train";
  if (n > 0) {
    const std::filesystem::path exe(std::string(self, static_cast<std::size_t>(n)));
    if (exe.filename() == "stars-train") {
      std::error_code ec;
      const auto relative = std::filesystem::relative(exe, std::filesystem::current_path(), ec);
      program = !ec && !relative.empty() && relative.native().rfind("..", 0) != 0
                    ? "./" + relative.string()
                    : exe.string();
    }
  }
  return program + " --resume " + run_dir;
}

}  // namespace stars
