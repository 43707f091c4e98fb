#include "stars/util/device_memory.hpp"

#include <dlfcn.h>

#include <cstddef>

namespace stars {
namespace {

// The CUDA runtime's entry points used here (cudaError_t is an int; 0 is cudaSuccess).
using GetDevice = int (*)(int*);
using SetDevice = int (*)(int);
using MemGetInfo = int (*)(std::size_t*, std::size_t*);

/// `name` from the CUDA runtime already in the process: a CUDA LibTorch loads it (as
/// libcudart.so.12, or a renamed copy in older wheels) and its symbols are global.
void* runtime_symbol(const char* name) {
  if (void* symbol = dlsym(RTLD_DEFAULT, name)) return symbol;
  // A runtime loaded with RTLD_LOCAL is reachable through its own handle; RTLD_NOLOAD
  // opens it only if it is loaded already, so a CPU-only process never loads CUDA here.
  for (const char* library : {"libcudart.so.12", "libcudart.so.11.0", "libcudart.so"}) {
    if (void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD)) {
      void* symbol = dlsym(handle, name);
      dlclose(handle);
      if (symbol) return symbol;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<double> cuda_free_memory_bytes(int index) {
  auto get_device = reinterpret_cast<GetDevice>(runtime_symbol("cudaGetDevice"));
  auto set_device = reinterpret_cast<SetDevice>(runtime_symbol("cudaSetDevice"));
  auto mem_get_info = reinterpret_cast<MemGetInfo>(runtime_symbol("cudaMemGetInfo"));
  if (!get_device || !set_device || !mem_get_info) return std::nullopt;
  int current = 0;
  if (get_device(&current) != 0 || set_device(index) != 0) return std::nullopt;
  std::size_t free = 0, total = 0;
  const bool known = mem_get_info(&free, &total) == 0;
  set_device(current);
  if (!known) return std::nullopt;
  return static_cast<double>(free);
}

}  // namespace stars
