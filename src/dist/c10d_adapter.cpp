// The one place that includes c10d. LibTorch 1.13 and 2.x differ here: in 1.13 the Gloo
// and NCCL process groups derive from c10d::ProcessGroup, from 2.0 on from c10d::Backend;
// both keep the constructor (store, rank, size, options) and the collectives used below.
#include <stdexcept>

#include <fmt/format.h>
#include <torch/version.h>

#include "stars/dist/group.hpp"

#ifdef STARS_WITH_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef STARS_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace stars::dist {

bool c10d_available() {
#ifdef STARS_WITH_C10D
  return true;
#else
  return false;
#endif
}

bool nccl_available() {
#if defined(STARS_WITH_C10D) && defined(STARS_WITH_NCCL)
  return true;
#else
  return false;
#endif
}

#ifdef STARS_WITH_C10D
namespace {

#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

/// The rendezvous store, as torch.distributed's env:// init builds it.
c10::intrusive_ptr<c10d::Store> make_store(const Launch& l, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(l.master_port);
  o.numWorkers = static_cast<std::size_t>(l.world_size);
  o.timeout = timeout;
  if (l.agent_store) {  // torchrun's agent already serves the store; every rank is a client
    o.isServer = false;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(l.master_addr, o);
    return c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + l.restart_count, tcp);
  }
  o.isServer = l.rank == 0;
  o.multiTenant = true;
  return c10::make_intrusive<c10d::TCPStore>(l.master_addr, o);
}

c10::intrusive_ptr<BackendBase> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                          const Launch& l, std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  opts->devices.push_back(ifname && *ifname
                              ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                              : c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, l.rank, l.world_size, opts);
}

#ifdef STARS_WITH_NCCL
c10::intrusive_ptr<BackendBase> make_nccl(const c10::intrusive_ptr<c10d::Store>& store,
                                          const Launch& l, std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, l.rank, l.world_size, opts);
}
#endif

}  // namespace

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> backend;
};

std::unique_ptr<Group> Group::join(const Launch& launch, const std::string& backend,
                                   std::chrono::seconds timeout) {
  const std::chrono::milliseconds ms(timeout);
  auto impl = std::make_unique<Impl>();
  try {
    impl->store = make_store(launch, ms);
#ifdef STARS_WITH_NCCL
    impl->backend =
        backend == "nccl" ? make_nccl(impl->store, launch, ms) : make_gloo(impl->store, launch, ms);
#else
    impl->backend = make_gloo(impl->store, launch, ms);
#endif
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "rank {}/{}: could not join the {} process group at {}:{} within {} s: {}. Check that "
        "every rank was launched (torchrun --nproc_per_node=N) and MASTER_ADDR/MASTER_PORT "
        "are reachable",
        launch.rank, launch.world_size, backend, launch.master_addr, launch.master_port,
        timeout.count(), e.what()));
  }
  return std::unique_ptr<Group>(
      new Group(std::move(impl), launch.rank, launch.world_size, backend));
}

namespace {

template <typename F>
void collective(int rank, int world, const char* what, F run) {
  try {
    run()->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "rank {}/{}: {} failed: {}. Another rank has probably exited or stalled past "
        "train.dist_timeout_s (see its log); the run resumes from its last checkpoint with "
        "stars-train --resume DIR under the same launcher and world size",
        rank, world, what, e.what()));
  }
}

}  // namespace

void Group::all_reduce_sum(torch::Tensor& tensor, const char* what) {
  std::vector<at::Tensor> v{tensor};
  collective(rank_, world_size_, what, [&] { return impl_->backend->allreduce(v); });
}

void Group::broadcast(torch::Tensor& tensor, int root, const char* what) {
  std::vector<at::Tensor> v{tensor};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  collective(rank_, world_size_, what, [&] { return impl_->backend->broadcast(v, o); });
}

void Group::barrier(const char* what) {
  collective(rank_, world_size_, what, [&] { return impl_->backend->barrier(); });
}

#else  // built without c10d: a single process only

struct Group::Impl {};

std::unique_ptr<Group> Group::join(const Launch& launch, const std::string&, std::chrono::seconds) {
  throw std::runtime_error(fmt::format(
      "WORLD_SIZE={} asks for data-parallel training, but this build of stars has no c10d "
      "(Gloo headers were not found at configure time: install libgloo-dev, or use a "
      "LibTorch that ships them, and rebuild)",
      launch.world_size));
}
void Group::all_reduce_sum(torch::Tensor&, const char*) {}
void Group::broadcast(torch::Tensor&, int, const char*) {}
void Group::barrier(const char*) {}

#endif

Group::Group(std::unique_ptr<Impl> impl, int rank, int world_size, std::string backend)
    : impl_(std::move(impl)), rank_(rank), world_size_(world_size), backend_(std::move(backend)) {}

Group::~Group() = default;

}  // namespace stars::dist
