#pragma once
// Which build of stars' per-ISA kernels (attention_kernels.cpp, gelu_kernels.cpp) runs.

namespace stars::detail {

/// True when this CPU runs the x86-64-v3 (AVX2 + FMA) kernel build, it was compiled, and
/// this thread has not asked for the baseline build.
bool wide_kernels_allowed();

/// Makes this thread use the baseline-ISA kernels even where a wider build would run (for
/// tests of the build that CPUs without AVX2 take). Returns the previous setting.
bool use_baseline_kernels(bool on);

}  // namespace stars::detail
