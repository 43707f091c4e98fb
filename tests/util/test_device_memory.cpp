#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <optional>

#include <torch/cuda.h>

#include "stars/config/errors.hpp"
#include "stars/model/memory_estimate.hpp"
#include "stars/util/device_memory.hpp"

namespace stars {
namespace {

// A step on a GPU is refused by the GPU's free memory, not by the host's: on a card with less
// memory than its host the host's would pass a step that cannot fit, and the other way round.
TEST(DeviceMemory, ACudaDeviceIsMeasuredByItsOwnFreeMemory) {
  ::unsetenv("STARS_MEMORY_LIMIT");
  const c10::Device cuda(c10::kCUDA, 0), cpu(c10::kCPU);
  const auto free = cuda_free_memory_bytes(0);
  if (std::getenv("STARS_FAKE_CUDART")) {  // tests/util/fake_cudart.cpp: 3 + d GiB free
    constexpr double kGiB = 1 << 30;
    EXPECT_EQ(free, 3 * kGiB);
    EXPECT_EQ(cuda_free_memory_bytes(1), 4 * kGiB);
    EXPECT_EQ(cuda_free_memory_bytes(2), std::nullopt) << "the fake has two devices";
    EXPECT_EQ(available_memory_bytes(c10::Device(c10::kCUDA, 1)), 4 * kGiB);
    auto get_device = reinterpret_cast<int (*)(int*)>(dlsym(RTLD_DEFAULT, "cudaGetDevice"));
    ASSERT_NE(get_device, nullptr);
    int current = -1;
    get_device(&current);
    EXPECT_EQ(current, 0) << "the query must leave the current device as it found it";
  } else if (torch::cuda::is_available()) {
    ASSERT_TRUE(free.has_value()) << "the CUDA runtime LibTorch loaded was not found";
    EXPECT_GT(*free, 0);
    EXPECT_NEAR(available_memory_bytes(cuda), *free, 256.0 * (1 << 20));
    EXPECT_FALSE(cuda_free_memory_bytes(static_cast<int>(torch::cuda::device_count())))
        << "a device index past the last was answered";
  } else {
    EXPECT_FALSE(free.has_value()) << "no CUDA runtime should be loaded in a CPU-only process";
    // Where the device cannot be asked, the host's memory stands in.
    const double host = available_memory_bytes(cpu);
    EXPECT_NEAR(available_memory_bytes(cuda), host, 0.05 * host);
  }
}

TEST(DeviceMemory, RefusalsSayWhoseMemoryWasShort) {
  Config cfg;
  cfg.phases[0].loops.n = 100000;
  ::setenv("STARS_MEMORY_LIMIT", "20000000000", 1);
  auto message = [&](const c10::Device& device) {
    try {
      check_training_memory(cfg, 16, 16, 1, device);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string on_cpu = message(c10::Device(c10::kCPU));
  const std::string on_gpu = message(c10::Device(c10::kCUDA, 1));
  ::unsetenv("STARS_MEMORY_LIMIT");
  EXPECT_NE(on_cpu.find("18.6 GiB of memory is available"), std::string::npos) << on_cpu;
  EXPECT_NE(on_gpu.find("18.6 GiB of memory on cuda:1 is available"), std::string::npos) << on_gpu;
  EXPECT_EQ(memory_place(c10::Device(c10::kCUDA)), "memory on cuda:0");
}

}  // namespace
}  // namespace stars
