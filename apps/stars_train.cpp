// stars-train: train a LoopLM with random loop counts and the Jacobian spectral-radius
// penalty. Parses flags, resolves the config, and hands over to stars::Trainer.
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <unistd.h>

#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/dist/group.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "stars/train/trainer.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

std::string default_out_dir(const std::string& config_path) {
  const std::string name =
      config_path.empty() ? "arith" : std::filesystem::path(config_path).stem().string();
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  // The process id keeps runs started in the same second apart; the ranks of one torchrun
  // launch share their launcher's, and so one directory.
  const bool data_parallel = std::getenv("WORLD_SIZE") != nullptr;
  const long id = data_parallel ? static_cast<long>(getppid()) : static_cast<long>(getpid());
  return "runs/" + name + "-" + stamp + "-" + std::to_string(id);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a looped language model with STARS (random loops + Jacobian penalty)."};
  std::string config_path, out_dir, resume_dir, init_from, device;
  std::vector<std::string> overrides;
  int threads = -1;
  bool print_config = false, config_reference = false, quiet = false;
  stars::tool::show_defaults(app);
  app.add_option("--config", config_path, "JSON config (default: the embedded STARS default)");
  app.add_option("--set", overrides, "override a config value: key.path=value (repeatable)");
  app.add_option("--out", out_dir, "run directory to create (default: runs/NAME-TIMESTAMP)");
  app.add_option("--resume", resume_dir,
                 "continue the run in this directory from its last checkpoint");
  app.add_option(
      "--init", init_from,
      "start from the weights of another run (directory, checkpoint or .safetensors file)");
  app.add_option("--device", device, "auto, cpu or cuda (overrides train.device)");
  app.add_option("--threads", threads, "LibTorch intra-op threads (unset: train.threads)")
      ->check(CLI::Range(0, 1024));
  std::string dist_backend;
  app.add_option("--dist-backend", dist_backend,
                 "auto, gloo or nccl for runs launched by torchrun (overrides train.dist_backend)");
  app.add_flag("--print-config", print_config,
               "print the resolved config as JSON, only the keys that act on this run, and exit");
  app.add_flag("--config-reference", config_reference,
               "print every config key with its default, range and meaning (Markdown) and exit");
  stars::tool::add_quiet_flag(app, quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-train", argc, argv)) return *code;
  if (config_reference) {
    std::cout << stars::config_reference();
    return stars::kExitOk;
  }
  return stars::run_cli("stars-train", [&] {
    stars::tool::apply_quiet(quiet);
    const volatile int* stop = stars::install_stop_handlers();  // before any thread starts
    if (!resume_dir.empty() && (!config_path.empty() || !out_dir.empty()))
      throw stars::ConfigError(
          "--resume keeps the run's own config and directory; drop --config and --out");
    stars::Config cfg;
    if (!resume_dir.empty()) {
      if (!std::filesystem::exists(resume_dir + "/config.json"))
        throw stars::ConfigError("cannot resume '" + resume_dir +
                                 "': it holds no config.json, so it is not a run directory (or "
                                 "its run was stopped before training began); start a new run "
                                 "with --out");
      const stars::Config own = stars::load_config(resume_dir + "/config.json");
      cfg = stars::resumed_config(own, overrides);
      overrides.clear();
      const bool extended = cfg.total_steps() > own.total_steps();
      if (!extended && std::filesystem::exists(resume_dir + "/model.pt")) {
        spdlog::info(
            "{} is complete: all {} steps ran and its final model is {}/model.pt; "
            "nothing to resume (evaluate it with stars-eval --checkpoint {}, or extend "
            "it with --set phases.{}.steps=MORE)",
            resume_dir, cfg.total_steps(), resume_dir, resume_dir, cfg.phases.size() - 1);
        return stars::kExitOk;
      }
      // The run directory describes the run it now is (one writer: rank 0 under torchrun).
      const char* rank = std::getenv("RANK");
      if (!print_config && (!rank || std::string(rank) == "0"))
        stars::save_config(cfg, resume_dir + "/config.json");
    } else if (!config_path.empty())
      cfg = stars::load_config(config_path);
    if (resume_dir.empty() && !init_from.empty() && stars::is_hf_model_dir(init_from)) {
      // A pretrained model's shape is its own: model.* comes from its config.json (--set
      // still applies on top, for dropout say).
      cfg.model = stars::hf_model_config(init_from);
      spdlog::info("model settings from {}/config.json", init_from);
    }
    if (!device.empty()) overrides.push_back("train.device=\"" + device + "\"");
    if (threads >= 0) overrides.push_back("train.threads=" + std::to_string(threads));
    if (!dist_backend.empty()) overrides.push_back("train.dist_backend=" + dist_backend);
    cfg = stars::apply_overrides(cfg, overrides);
    if (stars::is_chat_task(cfg.data) && cfg.data.tokenizer.empty() && !init_from.empty() &&
        stars::is_hf_model_dir(init_from)) {  // a pretrained model brings its tokenizer
      cfg.data.tokenizer = init_from;
      spdlog::info("data.tokenizer from {}", init_from);
    }
    if (print_config) {
      std::cout << stars::applicable_config_json(cfg).dump(2) << "\n";
      return stars::kExitOk;
    }
    stars::TrainerOptions opts;
    opts.out_dir = resume_dir.empty() ? (out_dir.empty() ? default_out_dir(config_path) : out_dir)
                                      : resume_dir;
    opts.resume = !resume_dir.empty();
    opts.init_from = init_from;
    torch::Device device = stars::resolve_device(cfg.train.device);
    const auto group = stars::dist::join_from_env(cfg.train, device);
    opts.group = group.get();
    stars::Trainer trainer(cfg, opts, device);
    spdlog::info("run directory {} | {} parameters | {} steps", opts.out_dir,
                 stars::count_parameters(*trainer.model()), cfg.total_steps());
    trainer.set_stop_flag(stop);
    const auto acc = trainer.run();
    if (trainer.step() < cfg.total_steps()) {
      if (group && group->rank() != 0) return stars::kExitOk;
      spdlog::warn("stopped at step {}; checkpoint written. Resume with: {}", trainer.step(),
                   stars::resume_command(opts.out_dir));
      return stars::kExitOk;
    }
    if (group && group->rank() != 0) return stars::kExitOk;
    if (trainer.eval_metric() == "bits_per_token") {
      std::cout << "validation bits per assistant token by depth (up to " << cfg.eval.n
                << " conversations):\n";
      stars::print_accuracy_table(acc, trainer.eval_metric());
      return stars::kExitOk;
    }
    if (trainer.eval_metric() != "accuracy") {
      std::cout << "validation bits per byte by depth (up to " << cfg.eval.n << " windows of "
                << cfg.data.seq_len << " bytes):\n";
      stars::print_accuracy_table(acc, trainer.eval_metric());
      return stars::kExitOk;
    }
    std::cout << "accuracy by depth (" << cfg.eval.n << " held-out problems):\n";
    stars::print_accuracy_table(acc);
    if (const std::string warning = stars::not_learned_warning(acc); !warning.empty())
      std::cout << "WARNING: " << warning << "\n";
    return stars::kExitOk;
  });
}
