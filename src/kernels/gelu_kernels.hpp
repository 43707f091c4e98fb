#pragma once
// GELU's second derivative over raw arrays, compiled like attention_kernels.cpp: once for
// the baseline ISA and, on x86-64, once more for x86-64-v3, chosen at run time.
#include <cstdint>

namespace stars::kernels {

/// out[i] = gy[i] · g[i] · gelu''(a[i]) for i in [0, n), gelu''(a) = φ(a) (2 - a²): the
/// pre-activation's cotangent in the VJP of gelu_backward(g, a) = g · gelu'(a).
template <typename T>
using GeluSecondDerivativeKernel = void (*)(const T* gy, const T* g, const T* a, T* out,
                                            std::int64_t n);

namespace generic {
void gelu_second_derivative_f32(const float*, const float*, const float*, float*, std::int64_t);
void gelu_second_derivative_f64(const double*, const double*, const double*, double*, std::int64_t);
}  // namespace generic

#ifdef STARS_KERNELS_X86_64_V3
namespace x86_64_v3 {
void gelu_second_derivative_f32(const float*, const float*, const float*, float*, std::int64_t);
void gelu_second_derivative_f64(const double*, const double*, const double*, double*, std::int64_t);
}  // namespace x86_64_v3
#endif

}  // namespace stars::kernels
