#include "metrics_log.hpp"

#include <algorithm>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "stars/config/errors.hpp"

namespace stars {

void StepWindow::add(const StepStats& stats) {
  sum.loss += stats.loss, sum.ce += stats.ce, sum.penalty += stats.penalty;
  sum.tokens += stats.tokens, sum.grad_norm += stats.grad_norm;
  sum.lr = stats.lr;
  loops += stats.loops, ++steps;
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

nlohmann::json accuracy_json(const DepthAccuracy& accuracy) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [depth, value] : accuracy) j[std::to_string(depth)] = value;
  return j;
}

void MetricsLog::open(const std::string& path) {
  out_.open(path, std::ios::app);
  if (!out_) throw ConfigError("cannot write metrics file '" + path + "'");
}

void MetricsLog::write(const nlohmann::json& record) {
  if (out_.is_open()) out_ << record.dump() << "\n" << std::flush;
}

void MetricsLog::log_window(std::int64_t step, std::int64_t total, const std::string& phase,
                            const StepWindow& window, double window_seconds, std::int64_t steps_run,
                            double run_seconds) {
  const StepStats& sum = window.sum;
  const double n = window.steps;
  const double tokens_per_s = static_cast<double>(sum.tokens) / std::max(window_seconds, 1e-9);
  const double loops = static_cast<double>(window.loops) / n;
  const double per_step = run_seconds / static_cast<double>(std::max<std::int64_t>(steps_run, 1));
  spdlog::info(
      "step {}/{} [{}] loss {:.4f} ce {:.4f} R {:.4f} loops {:.1f} lr {:.2e} tok/s {:.0f} | "
      "elapsed {} ETA {} (at most)",
      step, total, phase, sum.loss / n, sum.ce / n, sum.penalty / n, loops, sum.lr, tokens_per_s,
      format_duration(run_seconds), format_duration(per_step * static_cast<double>(total - step)));
  write({{"step", step},
         {"phase", phase},
         {"loss", sum.loss / n},
         {"ce", sum.ce / n},
         {"reg", sum.penalty / n},
         {"loops", loops},
         {"lr", sum.lr},
         {"grad_norm", sum.grad_norm / n},
         {"tokens_per_s", tokens_per_s}});
}

}  // namespace stars
