#pragma once
// Layer norm's double backward over raw rows, compiled like attention_kernels.cpp: once for
// the baseline ISA and, on x86-64, once more for x86-64-v3, chosen at run time.
#include <cstdint>

namespace stars::kernels {

/// Rows of D values. Inputs: x, dy (rows x D), mean and rstd (one per row), w (D);
/// cotangents of the backward's outputs: gdx (rows x D), gdw and gdb (D). Outputs
/// (rows x D): gx, gdy; and gw (D), to which the rows' weight cotangents are added.
template <typename T>
struct LayerNormRows {
  const T *x, *dy, *w, *gdx, *gdw, *gdb, *mean, *rstd;
  T *gx, *gdy, *gw;
  std::int64_t D;
};

/// Fills the outputs of rows [begin, end).
template <typename T>
using LayerNormDoubleBackwardKernel = void (*)(const LayerNormRows<T>&, std::int64_t begin,
                                               std::int64_t end);

namespace generic {
void layer_norm_double_backward_f32(const LayerNormRows<float>&, std::int64_t, std::int64_t);
void layer_norm_double_backward_f64(const LayerNormRows<double>&, std::int64_t, std::int64_t);
}  // namespace generic

#ifdef STARS_KERNELS_X86_64_V3
namespace x86_64_v3 {
void layer_norm_double_backward_f32(const LayerNormRows<float>&, std::int64_t, std::int64_t);
void layer_norm_double_backward_f64(const LayerNormRows<double>&, std::int64_t, std::int64_t);
}  // namespace x86_64_v3
#endif

}  // namespace stars::kernels
