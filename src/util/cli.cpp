#include "stars/util/cli.hpp"
#include "stars/util/memory.hpp"

#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "stars/config/errors.hpp"

namespace stars {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile double g_first_signal_s = 0;

double monotonic_seconds() {  // clock_gettime is async-signal-safe
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Launchers such as torchrun forward the terminal's Ctrl-C to workers that already got
// it from the terminal, so a repeat within this window is the same request, not a second one.
constexpr double kRepeatWindowS = 2.0;

void on_signal(int sig) {
  const double now = monotonic_seconds();
  if (g_stop && now - g_first_signal_s < kRepeatWindowS) return;
  if (g_stop) _exit(128 + sig);  // second signal: leave now; files are written atomically
  g_stop = 1;
  g_first_signal_s = now;
  const char msg[] = "\nstopping after the current step (signal again to exit at once)\n";
  [[maybe_unused]] auto n = write(STDERR_FILENO, msg, sizeof msg - 1);
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

const volatile int* install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return reinterpret_cast<const volatile int*>(&g_stop);
}

void print_accuracy_table(const std::map<int, double>& accuracy) {
  std::printf("%6s  %8s\n", "depth", "accuracy");
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
