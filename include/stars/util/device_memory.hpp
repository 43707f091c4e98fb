#pragma once
// Free memory on a CUDA device, for refusing a step that cannot fit before it is allocated.
#include <optional>

namespace stars {

/// Free bytes on CUDA device `index` (cudaMemGetInfo), or nullopt where no CUDA runtime is
/// loaded in this process (a CPU-only LibTorch) or the query fails. The runtime is looked up
/// among the libraries LibTorch loaded, at run time, so that stars builds without CUDA's
/// headers and the same binary runs on machines with and without a GPU. The device that was
/// current stays current.
std::optional<double> cuda_free_memory_bytes(int index);

}  // namespace stars
