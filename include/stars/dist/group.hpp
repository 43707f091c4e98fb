#pragma once
// Data-parallel process groups on PyTorch's c10d, joined the way torchrun expects:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT from the environment, a
// TCPStore rendezvous (the torchrun agent's store when TORCHELASTIC_USE_AGENT_STORE is
// set, else one hosted by rank 0), then a Gloo (CPU) or NCCL (CUDA) backend.
//
// Everything that touches c10d's C++ API, which moved between LibTorch 1.13 and 2.x,
// lives behind this interface in src/dist/c10d_adapter.cpp.
#include <chrono>
#include <memory>
#include <string>

#include <torch/types.h>

namespace stars {
struct TrainConfig;
}

namespace stars::dist {

/// What the launcher (torchrun, or a user's own script) put in the environment.
struct Launch {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;         // TORCHELASTIC_USE_AGENT_STORE=True: torchrun hosts the store
  std::string restart_count = "0";  // TORCHELASTIC_RESTART_COUNT, names the store prefix
};

/// Reads the launch environment; world_size is 1 when WORLD_SIZE is unset. Malformed
/// values are a ConfigError naming the variable.
Launch launch_from_env();

/// Whether this build can join a process group (c10d with Gloo; NCCL where built with it).
bool c10d_available();
bool nccl_available();

/// "auto" resolves to nccl for CUDA when built with NCCL, else gloo.
std::string resolve_backend(const std::string& requested, const torch::Device& device);

/// One process's membership of a process group. Collectives block until every rank
/// joins them; a peer that exits or stalls past the timeout makes them throw a
/// std::runtime_error that says so.
class Group {
 public:
  static std::unique_ptr<Group> join(const Launch& launch, const std::string& backend,
                                     std::chrono::seconds timeout);
  ~Group();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& backend() const { return backend_; }

  /// In-place sum over ranks of one (contiguous) tensor.
  void all_reduce_sum(torch::Tensor& tensor, const char* what);
  /// In-place copy of rank `root`'s tensor to every rank.
  void broadcast(torch::Tensor& tensor, int root, const char* what);
  void barrier(const char* what);

 private:
  struct Impl;
  Group(std::unique_ptr<Impl> impl, int rank, int world_size, std::string backend);
  std::unique_ptr<Impl> impl_;
  int rank_, world_size_;
  std::string backend_;
};

/// Joins the process group that the launch environment describes (nullptr when
/// WORLD_SIZE is 1), with train.dist_backend and train.dist_timeout_s, after checking
/// that train.batch (the global batch) divides over the ranks. On CUDA each rank
/// takes the GPU of its LOCAL_RANK (`device` is updated). Ranks other than 0 log warnings
/// only, so that rank 0 speaks for the run.
std::unique_ptr<Group> join_from_env(const TrainConfig& train, torch::Device& device);

}  // namespace stars::dist
