#include "stars/util/fault.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <system_error>
#include <thread>

#include <unistd.h>

#include "stars/config/errors.hpp"
#include "stars/util/stop_signals.hpp"

namespace stars::fault {
namespace {

bool applies(const Plan& p, Where where, std::int64_t step, int rank) {
  return p.kind != Kind::none && p.where == where && p.step == step &&
         (p.rank < 0 || p.rank == rank);
}

}  // namespace

Plan parse(const std::string& spec) {
  static const std::regex form(
      R"(^(signal|stall|exit|fail)@(step|checkpoint):(\d{1,12})(@rank:(\d{1,6}))?$)");
  std::smatch m;
  if (!std::regex_match(spec, m, form))
    throw ConfigError("STARS_FAULT='" + spec +
                      "' is not a fault point; valid: signal@step:N, stall@step:N, exit@step:N, "
                      "exit@checkpoint:N, each optionally followed by @rank:R");
  Plan p;
  p.kind = m[1] == "signal"  ? Kind::signal
           : m[1] == "stall" ? Kind::stall
           : m[1] == "exit"  ? Kind::exit
                             : Kind::fail;
  p.where = m[2] == "step" ? Where::step : Where::checkpoint;
  const bool step_only = p.kind == Kind::signal || p.kind == Kind::stall;
  if ((step_only && p.where != Where::step) ||
      (p.kind == Kind::fail && p.where != Where::checkpoint))
    throw ConfigError("STARS_FAULT='" + spec +
                      "': signal and stall are step faults, fail is a checkpoint fault");
  p.step = std::stoll(m[3]);
  if (m[5].matched) p.rank = std::stoi(m[5]);
  return p;
}

const Plan& plan() {
  static const Plan p = [] {
    const char* spec = std::getenv("STARS_FAULT");
    return spec && *spec ? parse(spec) : Plan{};
  }();
  return p;
}

void after_step(std::int64_t step, int rank) {
  const Plan& p = plan();
  if (!applies(p, Where::step, step, rank)) return;
  switch (p.kind) {
    case Kind::signal: {
      // To the process, as a user's kill or Ctrl-C is, so that the signal thread takes it;
      // the step returns once the stop is recorded, so the run stops at the same step always.
      kill(getpid(), SIGINT);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!stop_requested() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      return;
    }
    case Kind::stall:
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    case Kind::exit:
      _exit(3);
    case Kind::fail:
    case Kind::none:
      return;
  }
}

void checkpoint_written(const std::string& tmp, std::int64_t step) {
  if (!applies(plan(), Where::checkpoint, step, 0)) return;
  std::error_code ec;
  const auto size = std::filesystem::file_size(tmp, ec);
  if (!ec) std::filesystem::resize_file(tmp, size / 2, ec);
  if (plan().kind == Kind::exit) _exit(3);
  throw std::system_error(ENOSPC, std::generic_category(), "writing " + tmp);
}

}  // namespace stars::fault
