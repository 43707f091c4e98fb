// stars-average: the element-wise mean of a run's last checkpoints (or of the checkpoints
// named) written as a stars checkpoint that stars-eval, stars-generate, stars-export and
// stars-train --init read. Parses flags and hands over to stars::average_checkpoints.
#include <filesystem>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "stars/config/errors.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/checkpoint_average.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

struct Args {
  std::string run, out;
  std::vector<std::string> checkpoints;
  int last = 3;
  bool quiet = false;
};

int run(const Args& a) {
  if (std::filesystem::exists(a.out))
    throw stars::ConfigError("--out " + a.out + " exists; averaging never overwrites a file");
  auto [mean, paths] =
      a.run.empty()
          ? stars::AveragedCheckpoints{stars::average_checkpoints(a.checkpoints), a.checkpoints}
          : stars::average_newest_checkpoints(a.run, a.last);
  stars::save_checkpoint(a.out, mean.model, nullptr, mean.step, mean.config);
  for (const auto& p : paths) spdlog::info("averaged {}", p);
  spdlog::info("wrote {}: the mean of {} checkpoints, step {} (the first's)", a.out, paths.size(),
               mean.step);
  return stars::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Average the weights of a run's last checkpoints into one checkpoint."};
  Args a;
  stars::tool::show_defaults(app);
  auto* run_opt =
      app.add_option("--run", a.run, "run directory whose newest checkpoints to average");
  app.add_option("--last", a.last, "how many of the run's newest saved steps (model.pt first)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--checkpoints", a.checkpoints, "checkpoint files or run directories to average")
      ->excludes(run_opt);
  app.add_option("--out", a.out, "checkpoint file to write (must not exist)")->required();
  stars::tool::add_quiet_flag(app, a.quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-average", argc, argv)) return *code;
  return stars::run_cli("stars-average", [&] {
    stars::tool::apply_quiet(a.quiet);
    if (a.run.empty() && a.checkpoints.empty())
      throw stars::ConfigError("give --run DIR (with --last K) or --checkpoints FILE...");
    return run(a);
  });
}
