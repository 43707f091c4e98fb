#include "stars/train/run_dir.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "stars/config/errors.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

std::vector<fs::path> step_checkpoints(const std::string& dir) {
  std::vector<fs::path> out;
  const fs::path ckpt = fs::path(dir) / "checkpoints";
  if (!fs::is_directory(ckpt)) return out;
  for (const auto& e : fs::directory_iterator(ckpt)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && e.path().extension() == ".pt") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());  // zero-padded names sort by step
  return out;
}

}  // namespace

void create_run_dir(const std::string& dir) {
  const fs::path root(dir);
  if (fs::exists(root / "config.json") || fs::exists(root / "checkpoints"))
    throw ConfigError("run directory '" + dir + "' already holds a run; pass --resume " + dir +
                      " to continue it, or choose another --out");
  std::error_code ec;
  fs::create_directories(root / "checkpoints", ec);
  const fs::path probe = root / ".write-test";
  std::ofstream(probe.string()) << "ok";
  if (ec || !fs::exists(probe))
    throw ConfigError("cannot create or write run directory '" + dir + "'" +
                      (ec ? ": " + ec.message() : std::string()) + "; choose a writable --out");
  fs::remove(probe, ec);
}

std::string step_checkpoint_path(const std::string& dir, std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld.pt", static_cast<long long>(step));
  return (fs::path(dir) / "checkpoints" / name).string();
}

std::vector<std::string> step_checkpoint_paths(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& p : step_checkpoints(dir)) out.push_back(p.string());
  return out;
}

std::string latest_step_checkpoint(const std::string& dir) {
  const auto all = step_checkpoints(dir);
  if (all.empty())
    throw ConfigError("cannot resume '" + dir +
                      "': it holds no checkpoints/step-*.pt; "
                      "start a new run with --out instead");
  return all.back().string();
}

void prune_checkpoints(const std::string& dir, int keep) {
  auto all = step_checkpoints(dir);
  std::error_code ec;
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i) {
    fs::remove(all[i], ec);
    fs::remove(all[i].string() + ".sum", ec);
  }
  for (const auto& e : fs::directory_iterator(fs::path(dir) / "checkpoints", ec)) {
    const fs::path& p = e.path();
    const bool orphan_sum = p.extension() == ".sum" && !fs::exists(p.parent_path() / p.stem());
    if (p.extension() == ".tmp" || orphan_sum) fs::remove(p, ec);
  }
}

}  // namespace stars
