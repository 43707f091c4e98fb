// A stand-in for the CUDA runtime's memory query, preloaded (LD_PRELOAD) into the unit tests
// by the ctest entry unit.device_memory_fake_runtime: two devices, device d with 3 + d GiB
// free of 8, so that the lookup of the runtime LibTorch loaded is tested without a GPU.
#include <cstddef>

namespace {
int current_device = 0;
constexpr int kDevices = 2;
constexpr int kSuccess = 0, kInvalidDevice = 101;  // cudaSuccess, cudaErrorInvalidDevice
constexpr std::size_t kGiB = std::size_t{1} << 30;
}  // namespace

extern "C" {
int cudaGetDevice(int* device) {
  *device = current_device;
  return kSuccess;
}

int cudaSetDevice(int device) {
  if (device < 0 || device >= kDevices) return kInvalidDevice;
  current_device = device;
  return kSuccess;
}

int cudaMemGetInfo(std::size_t* free, std::size_t* total) {
  *free = (3 + static_cast<std::size_t>(current_device)) * kGiB;
  *total = 8 * kGiB;
  return kSuccess;
}
}
