#include "stars/train/checkpoint_average.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/train/run_dir.hpp"

namespace fs = std::filesystem;

namespace stars {
namespace {

nlohmann::json model_section(const Config& cfg) {
  nlohmann::json j;
  to_json(j, cfg);
  return j["model"];
}

/// Every parameter and floating-point buffer of a model, by name.
std::vector<std::pair<std::string, torch::Tensor>> weights_of(const LoopLM& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model->named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers())
    if (b.value().is_floating_point()) out.emplace_back(b.key(), b.value());
  return out;
}

/// Throws ConfigError unless `other` has `first`'s architecture, naming what differs.
void require_same_architecture(const LoadedModel& first, const LoadedModel& other) {
  auto refuse = [&](const std::string& what) {
    throw ConfigError(fmt::format(
        "average: {} is not the same model as {} ({}); only checkpoints of one run, or of "
        "runs of one architecture, can be averaged",
        other.path, first.path, what));
  };
  if (model_section(first.config) != model_section(other.config))
    refuse("the config's model section differs");
  const auto a = weights_of(first.model);
  const auto b = weights_of(other.model);
  if (a.size() != b.size()) refuse(fmt::format("{} tensors against {}", b.size(), a.size()));
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !a[i].second.sizes().equals(b[i].second.sizes()))
      refuse("tensor " + a[i].first + " differs in name or shape");
}

/// The step of a step checkpoint, from its name as step_checkpoint_path writes it
/// (RUN/checkpoints/step-N.pt); -1 for any other name.
std::int64_t step_from_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (name.rfind("step-", 0) != 0 || name.size() <= 8 || name.substr(name.size() - 3) != ".pt")
    return -1;
  const auto digits = name.substr(5, name.size() - 8);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

/// The newest `count` of a run's saved steps, newest first: model.pt (of step `final_step`;
/// -1 when the run has none), then checkpoints/step-*.pt, skipping the final model's step.
std::vector<std::string> newest_paths(const std::string& run_dir, int count,
                                      std::int64_t final_step) {
  std::vector<std::string> out;
  if (final_step >= 0) out.push_back((fs::path(run_dir) / "model.pt").string());
  const auto steps = step_checkpoint_paths(run_dir);  // oldest first
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (static_cast<int>(out.size()) == count) break;
    const std::int64_t step = step_from_name(*it);
    if (step < 0 || step != final_step) out.push_back(*it);
  }
  if (static_cast<int>(out.size()) < count)
    throw ConfigError(fmt::format(
        "average: {} holds {} distinct saved steps (model.pt and checkpoints/step-*.pt), "
        "fewer than the {} asked for; ask for at most {}, or keep more with "
        "train.keep_checkpoints",
        run_dir, out.size(), count, out.size()));
  return out;
}

void require_run_dir(const std::string& run_dir) {
  if (!fs::is_directory(run_dir))
    throw ConfigError("average: " + run_dir + " is not a run directory");
}

std::string final_model_path(const std::string& run_dir) {
  return (fs::path(run_dir) / "model.pt").string();
}

/// The running mean of models of one architecture, held in the first model's own tensors:
/// each model is folded in one tensor at a time in float64 (mean += (w - mean) / k), so
/// memory stays at two models however many are averaged, where a float64 sum of every
/// weight would add two more (11 GB for a 1.4B-parameter model).
class RunningMean {
 public:
  explicit RunningMean(LoadedModel first) : mean_(std::move(first)) {}

  void add(const LoadedModel& other) {
    require_same_architecture(mean_, other);
    ++count_;
    torch::NoGradGuard no_grad;
    const auto target = weights_of(mean_.model);
    const auto w = weights_of(other.model);
    for (std::size_t i = 0; i < target.size(); ++i) {
      auto m = target[i].second.to(torch::kDouble);
      m += (w[i].second.to(torch::kDouble) - m) / static_cast<double>(count_);
      target[i].second.copy_(m);
    }
  }

  LoadedModel take() { return std::move(mean_); }

 private:
  LoadedModel mean_;
  std::int64_t count_ = 1;
};

LoadedModel average_loaded(LoadedModel first, const std::vector<std::string>& rest) {
  RunningMean mean(std::move(first));
  for (const auto& path : rest) mean.add(load_model(path, torch::kCPU));
  return mean.take();
}

}  // namespace

std::vector<std::string> newest_checkpoints(const std::string& run_dir, int count) {
  require_run_dir(run_dir);
  const auto final_path = final_model_path(run_dir);
  // model.pt's step is inside the file; step checkpoints carry theirs in their names.
  const std::int64_t final_step =
      fs::exists(final_path) ? load_model(final_path, torch::kCPU).step : -1;
  return newest_paths(run_dir, count, final_step);
}

AveragedCheckpoints average_newest_checkpoints(const std::string& run_dir, int count) {
  require_run_dir(run_dir);
  const auto final_path = final_model_path(run_dir);
  if (!fs::exists(final_path)) {
    auto paths = newest_paths(run_dir, count, -1);
    return {average_checkpoints(paths), paths};
  }
  // Loaded once: its step decides which step checkpoint it duplicates, and it is the mean's
  // first term.
  LoadedModel final_model = load_model(final_path, torch::kCPU);
  auto paths = newest_paths(run_dir, count, final_model.step);
  const std::vector<std::string> rest(paths.begin() + 1, paths.end());
  return {average_loaded(std::move(final_model), rest), paths};
}

LoadedModel average_checkpoints(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ConfigError("average: no checkpoints given");
  const std::vector<std::string> rest(paths.begin() + 1, paths.end());
  return average_loaded(load_model(paths.front(), torch::kCPU), rest);
}

}  // namespace stars
