#include "stars/train/checkpoint_average.hpp"

#include <filesystem>
#include <set>

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

/// The step a checkpoint holds: from its name for RUN/checkpoints/step-N.pt (as
/// step_checkpoint_path writes it), else read from the file, which loads it whole.
std::int64_t saved_step(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const auto digits = name.size() > 8 ? name.substr(5, name.size() - 8) : std::string();
  if (name.rfind("step-", 0) == 0 && name.size() > 8 && name.substr(name.size() - 3) == ".pt" &&
      !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos)
    return std::stoll(digits);
  return load_model(path, torch::kCPU).step;
}

}  // namespace

std::vector<std::string> newest_checkpoints(const std::string& run_dir, int count) {
  if (!fs::is_directory(run_dir))
    throw ConfigError("average: " + run_dir + " is not a run directory");
  std::vector<std::string> candidates;
  if (fs::exists(fs::path(run_dir) / "model.pt"))
    candidates.push_back((fs::path(run_dir) / "model.pt").string());
  auto steps = step_checkpoint_paths(run_dir);  // oldest first
  candidates.insert(candidates.end(), steps.rbegin(), steps.rend());
  std::vector<std::string> out;
  std::set<std::int64_t> seen;
  for (const auto& path : candidates) {
    if (static_cast<int>(out.size()) == count) break;
    if (seen.insert(saved_step(path)).second) out.push_back(path);
  }
  if (static_cast<int>(out.size()) < count)
    throw ConfigError(fmt::format(
        "average: {} holds {} distinct saved steps (model.pt and checkpoints/step-*.pt), "
        "fewer than the {} asked for; ask for at most {}, or keep more with "
        "train.keep_checkpoints",
        run_dir, out.size(), count, out.size()));
  return out;
}

LoadedModel average_checkpoints(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ConfigError("average: no checkpoints given");
  LoadedModel first = load_model(paths.front(), torch::kCPU);
  auto target = weights_of(first.model);
  std::vector<torch::Tensor> sums;
  for (const auto& [name, t] : target) sums.push_back(t.detach().to(torch::kDouble));
  for (std::size_t k = 1; k < paths.size(); ++k) {
    const LoadedModel other = load_model(paths[k], torch::kCPU);
    require_same_architecture(first, other);
    const auto w = weights_of(other.model);
    for (std::size_t i = 0; i < w.size(); ++i) sums[i] += w[i].second.detach().to(torch::kDouble);
  }
  torch::NoGradGuard no_grad;
  const double n = static_cast<double>(paths.size());
  for (std::size_t i = 0; i < target.size(); ++i)
    target[i].second.copy_((sums[i] / n).to(target[i].second.scalar_type()));
  return first;
}

}  // namespace stars
