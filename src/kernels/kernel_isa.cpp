#include "kernel_isa.hpp"

namespace stars::kernels {
namespace {

thread_local bool g_baseline_only = false;

}  // namespace

bool wide_kernels_allowed() {
#ifdef STARS_KERNELS_X86_64_V3
  return !g_baseline_only && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool use_baseline_kernels(bool on) {
  const bool previous = g_baseline_only;
  g_baseline_only = on;
  return previous;
}

}  // namespace stars::kernels
