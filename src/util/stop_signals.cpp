#include "stars/util/stop_signals.hpp"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <thread>

namespace stars {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile double g_first_signal_s = 0;

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Launchers such as torchrun forward the terminal's Ctrl-C to workers that already got
// it from the terminal, so a repeat within this window is the same request, not a second one.
constexpr double kRepeatWindowS = 2.0;

/// A stop signal, taken by the signal thread (install_stop_handlers).
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

const volatile int* install_stop_handlers() {
  // SIGINT and SIGTERM are blocked here, before the tools start any thread (every later
  // thread inherits the mask), and taken by one thread that waits for them, so no signal
  // is ever delivered into running code. With an asynchronous handler, a Ctrl-C in the
  // middle of a training step crashed the process (heap corruption, reported by free()
  // inside oneDNN's GEMM) in three tries out of four; interrupted system calls (EINTR)
  // are gone too.
  static const bool installed = [] {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::thread([stop_signals] {
      for (;;) {
        int sig = 0;
        if (sigwait(&stop_signals, &sig) == 0) on_signal(sig);
      }
    }).detach();
    return true;
  }();
  (void)installed;
  return reinterpret_cast<const volatile int*>(&g_stop);
}

bool stop_requested() {
  return g_stop != 0;
}

}  // namespace stars
