#pragma once
// Which build of stars' per-ISA kernels (attention_kernels.cpp, gelu_kernels.cpp,
// layer_norm_kernels.cpp) runs.
#include <type_traits>

namespace stars::kernels {

/// True when this CPU runs the x86-64-v3 (AVX2 + FMA) kernel build, it was compiled, and
/// this thread has not asked for the baseline build.
bool wide_kernels_allowed();

/// True when this CPU multiplies bfloat16 in hardware (AVX512_BF16 with AVX-512 enabled by
/// the OS, or AMX-BF16) and this thread has not asked for the baseline build. The one place
/// stars decides whether bf16 runs natively (stars/kernels/precision.hpp).
bool native_bf16_allowed();

/// NS::NAME_f32 or NS::NAME_f64, as T is float or double: one entry of a kernel build, e.g.
///   if (wide_kernels_allowed()) return STARS_KERNEL_ENTRY(T, x86_64_v3, gelu_kernel);
#define STARS_KERNEL_ENTRY(T, NS, NAME)     \
  [] {                                      \
    if constexpr (std::is_same_v<T, float>) \
      return &NS::NAME##_f32;               \
    else                                    \
      return &NS::NAME##_f64;               \
  }()

/// Makes this thread use the baseline-ISA kernels even where a wider build would run (for
/// tests of the build that CPUs without AVX2 take, and of what a CPU without native bf16
/// refuses). Returns the previous setting.
bool use_baseline_kernels(bool on);

}  // namespace stars::kernels
