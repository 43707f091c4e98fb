#include "kernel_isa.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

bool native_bf16_allowed() {
#if defined(__x86_64__)
  if (g_baseline_only) return false;
  unsigned a = 0, b = 0, c = 0, d = 0;
  // CPUID leaf 7: subleaf 1 EAX bit 5 is AVX512_BF16, subleaf 0 EDX bit 22 is AMX-BF16.
  const bool avx512_bf16 = __builtin_cpu_supports("avx512f") &&
                           __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
  const bool amx_bf16 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22));
  return avx512_bf16 || amx_bf16;
#else
  return false;  // other architectures' bf16 instructions are not checked: treated as absent
#endif
}

bool use_baseline_kernels(bool on) {
  const bool previous = g_baseline_only;
  g_baseline_only = on;
  return previous;
}

}  // namespace stars::kernels
