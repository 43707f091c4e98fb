#include <cstdlib>

#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/dist/group.hpp"

namespace stars::dist {
namespace {

int env_int(const char* name, int fallback, int min, int max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < min || x > max)
    throw ConfigError(std::string("environment variable ") + name + "='" + v +
                      "' is not an integer in [" + std::to_string(min) + ", " +
                      std::to_string(max) + "]; torchrun sets it, or unset it to run alone");
  return static_cast<int>(x);
}

std::string env_str(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

Launch launch_from_env() {
  Launch l;
  l.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 16);
  l.rank = env_int("RANK", 0, 0, l.world_size - 1);
  l.local_rank = env_int("LOCAL_RANK", l.rank, 0, 1 << 16);
  l.master_addr = env_str("MASTER_ADDR", l.master_addr);
  l.master_port = env_int("MASTER_PORT", l.master_port, 1, 65535);
  l.agent_store = env_str("TORCHELASTIC_USE_AGENT_STORE", "") == "True";
  l.restart_count = env_str("TORCHELASTIC_RESTART_COUNT", "0");
  if (l.world_size > 1 && !std::getenv("RANK"))
    throw ConfigError("WORLD_SIZE=" + std::to_string(l.world_size) +
                      " but RANK is unset; launch with torchrun, which sets both");
  return l;
}

std::string resolve_backend(const std::string& requested, const torch::Device& device) {
  if (requested == "auto") return device.is_cuda() && nccl_available() ? "nccl" : "gloo";
  if (requested == "nccl" && !nccl_available())
    throw ConfigError(
        "train.dist_backend 'nccl' requested but this build of stars has no NCCL; "
        "use gloo (works on CPU and CUDA tensors) or rebuild against a CUDA "
        "LibTorch with -DSTARS_WITH_NCCL=ON");
  if (requested == "nccl" && !device.is_cuda())
    throw ConfigError("train.dist_backend 'nccl' needs train.device cuda; use gloo on CPU");
  return requested;
}

std::unique_ptr<Group> join_from_env(const TrainConfig& train, torch::Device& device) {
  const Launch launch = launch_from_env();
  if (launch.world_size == 1) return nullptr;
  if (train.batch % launch.world_size != 0)  // before joining: no rank waits on a doomed run
    throw ConfigError("train.batch = " + std::to_string(train.batch) +
                      " is the global batch and must divide evenly over " +
                      std::to_string(launch.world_size) + " ranks");
  if (device.is_cuda()) {
    const auto gpus = static_cast<int>(torch::cuda::device_count());
    if (launch.local_rank >= gpus)  // rather than CUDA's "invalid device ordinal" later
      throw ConfigError("LOCAL_RANK=" + std::to_string(launch.local_rank) + " asks for cuda:" +
                        std::to_string(launch.local_rank) + ", but " + std::to_string(gpus) +
                        " GPU(s) are visible: launch at most " + std::to_string(gpus) +
                        " rank(s) per machine (torchrun --nproc_per_node=" + std::to_string(gpus) +
                        "), or train on the CPU with --device cpu");
    device = torch::Device(torch::kCUDA, launch.local_rank);
  }
  const std::string resolved = resolve_backend(train.dist_backend, device);
  auto group = Group::join(launch, resolved, std::chrono::seconds(train.dist_timeout_s));
  if (group->rank() != 0) spdlog::set_level(spdlog::level::warn);
  spdlog::info("rank {}/{} joined the {} process group at {}:{}", group->rank(),
               group->world_size(), resolved, launch.master_addr, launch.master_port);
  return group;
}

}  // namespace stars::dist
