// GELU's second derivative, one vectorised pass. Compiled once per ISA (see
// gelu_kernels.hpp); only stars' kernel headers and the C library may be included here.
#include "gelu_kernels.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef STARS_KERNEL_ISA
#define STARS_KERNEL_ISA generic
#endif

namespace stars::kernels::STARS_KERNEL_ISA {
namespace {

#include "kernel_math.inc"

template <typename T>
void gelu_second_derivative(const T* gy, const T* g, const T* a, T* out, std::int64_t n) {
  const T inv_sqrt_2pi = T(0.39894228040143267794);
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const T a2 = a[i] * a[i];
    out[i] = gy[i] * g[i] * inv_sqrt_2pi * exp_nonpositive(T(-0.5) * a2) * (T(2) - a2);
  }
}

}  // namespace

void gelu_second_derivative_f32(const float* gy, const float* g, const float* a, float* out,
                                std::int64_t n) {
  gelu_second_derivative(gy, g, a, out, n);
}
void gelu_second_derivative_f64(const double* gy, const double* g, const double* a, double* out,
                                std::int64_t n) {
  gelu_second_derivative(gy, g, a, out, n);
}

}  // namespace stars::kernels::STARS_KERNEL_ISA
