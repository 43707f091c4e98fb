#include "stars/util/cli.hpp"
#include "stars/util/memory.hpp"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "stars/config/errors.hpp"

namespace stars {
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
    return body();
  } catch (const ConfigError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const DataError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const c10::Error& e) {
    std::cerr << program << ": LibTorch error: " << e.what_without_backtrace() << "\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitRuntime;
  }
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
