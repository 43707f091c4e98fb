// Per-head kernels of the fused causal attention. Compiled once per ISA (see
// attention_kernels.hpp): only stars' kernel headers and the C library may be included here,
// so that no inline library code is compiled with the wider ISA and shared with the baseline
// build.
#include "attention_kernels.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#ifndef STARS_KERNEL_ISA
#define STARS_KERNEL_ISA generic
#endif

namespace stars::kernels::STARS_KERNEL_ISA {
namespace {

#include "kernel_math.inc"

using Dims = AttentionDims;

/// Head width: HS when the kernel is specialised for it (the loops then unroll into a few
/// vector instructions), otherwise (HS = 0) the run-time value.
template <int HS>
inline std::int64_t width(std::int64_t hs) {
  return HS > 0 ? HS : hs;
}

// Short vector primitives over one head's row (hs contiguous values).
template <int HS, typename T>
inline T dot(const T* a, const T* b, std::int64_t hs) {
  T s = 0;
  const auto n = width<HS>(hs);
#pragma omp simd reduction(+ : s)
  for (std::int64_t d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

template <int HS, typename T>
inline void axpy(T alpha, const T* x, T* y, std::int64_t hs) {
  const auto n = width<HS>(hs);
#pragma omp simd
  for (std::int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

/// Rows of one head inside a (B, T, width) tensor: row i starts at data + i * stride.
template <typename T>
struct Rows {
  T* data;
  std::int64_t stride;
  T* operator[](std::int64_t i) const { return data + i * stride; }
};

/// Sets the head's n rows to zero. The gradients are sums over the sequence, so they start
/// at zero; zeroing each head's columns here, just before they are summed into, replaces a
/// pass over the whole (B, T, 3D) tensor that would first evict them from the cache.
template <int HS, typename T>
inline void zero_rows(Rows<T> rows, std::int64_t n, std::int64_t hs) {
  const auto w = width<HS>(hs);
  for (std::int64_t i = 0; i < n; ++i) {
    T* r = rows[i];
#pragma omp simd
    for (std::int64_t c = 0; c < w; ++c) r[c] = 0;
  }
}

/// y = Σ_{j < n} w[j] · rows[j] (y is written, not read), summed in registers when the head
/// width is known.
template <int HS, typename T>
inline void weighted_rows(const T* w, Rows<const T> rows, std::int64_t n, T* y, std::int64_t hs) {
  if constexpr (HS > 0) {
    T acc[HS] = {};
    for (std::int64_t j = 0; j < n; ++j) {
      const T* r = rows[j];
      const T wj = w[j];
#pragma omp simd
      for (int c = 0; c < HS; ++c) acc[c] += wj * r[c];
    }
#pragma omp simd
    for (int c = 0; c < HS; ++c) y[c] = acc[c];
  } else {
    for (std::int64_t c = 0; c < hs; ++c) y[c] = 0;
    for (std::int64_t j = 0; j < n; ++j) axpy<HS>(w[j], rows[j], y, hs);
  }
}

/// One head's queries, keys and values (or their gradients) in a packed (B, T, 3D) tensor.
template <typename T>
struct PackedHead {
  Rows<T> q, k, v;
  PackedHead(T* packed, const Dims& d, std::int64_t b, std::int64_t h)
      : q{packed + (b * d.T * 3 * d.D + h * d.hs), 3 * d.D},
        k{q.data + d.D, 3 * d.D},
        v{q.data + 2 * d.D, 3 * d.D} {}
};

/// One head in a merged (B, T, D) tensor.
template <typename T>
Rows<T> merged_head(T* merged, const Dims& d, std::int64_t b, std::int64_t h) {
  return {merged + (b * d.T * d.D + h * d.hs), d.D};
}

template <typename T>
T* head_probs(T* probs, const Dims& d, std::int64_t b, std::int64_t h) {
  return probs + (b * d.H + h) * d.T * d.T;
}

template <typename T>
T scale_of(const Dims& d) {
  return T(1) / std::sqrt(static_cast<T>(d.hs));
}

/// P = softmax(mask(Q Kᵀ · scale)) row by row (zero above the diagonal), then O = P V.
template <int HS, typename T>
void forward(const Dims& d, const T* qkv, T* out_all, T* probs_all, std::int64_t b,
             std::int64_t h) {
  const PackedHead<const T> in(qkv, d, b, h);
  const auto out = merged_head(out_all, d, b, h);
  T* probs = head_probs(probs_all, d, b, h);
  const T scale = scale_of<T>(d);
  for (std::int64_t i = 0; i < d.T; ++i) {
    T* p = probs + i * d.T;
    T top = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j <= i; ++j) {
      p[j] = scale * dot<HS>(in.q[i], in.k[j], d.hs);
      top = p[j] > top ? p[j] : top;
    }
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j <= i; ++j) {
      p[j] = exp_nonpositive(p[j] - top);
      sum += p[j];
    }
    const T inv = T(1) / sum;
    for (std::int64_t j = 0; j <= i; ++j) p[j] *= inv;
    weighted_rows<HS>(p, in.v, i + 1, out[i], d.hs);
    for (std::int64_t j = i + 1; j < d.T; ++j) p[j] = 0;
  }
}

/// Row i's dP_ij = dO_i · V_j and dS_ij = P_ij (dP_ij - δ_i), δ_i = Σ_j P_ij dP_ij, for
/// j <= i. Returns δ_i.
template <int HS, typename T>
T score_grads(const PackedHead<const T>& in, const T* p, const T* dout_i, std::int64_t i,
              const Dims& d, T* dp, T* ds) {
  T delta = 0;
  for (std::int64_t j = 0; j <= i; ++j) {
    dp[j] = dot<HS>(dout_i, in.v[j], d.hs);
    delta += p[j] * dp[j];
  }
#pragma omp simd
  for (std::int64_t j = 0; j <= i; ++j) ds[j] = p[j] * (dp[j] - delta);
  return delta;
}

/// dQ = scale · dS K, dK = scale · dSᵀ Q, dV = Pᵀ dO.
template <int HS, typename T>
void backward(const Dims& d, const T* qkv, const T* probs_all, const T* dout_all, T* grad_all,
              std::int64_t b, std::int64_t h, T* scratch) {
  const PackedHead<const T> in(qkv, d, b, h);
  const PackedHead<T> grad(grad_all, d, b, h);
  const auto dout = merged_head(dout_all, d, b, h);
  const T* probs = head_probs(probs_all, d, b, h);
  const T scale = scale_of<T>(d);
  T *dp = scratch, *ds = scratch + d.T;
  zero_rows<HS>(grad.q, d.T, d.hs);
  zero_rows<HS>(grad.k, d.T, d.hs);
  zero_rows<HS>(grad.v, d.T, d.hs);
  for (std::int64_t i = 0; i < d.T; ++i) {
    const T* p = probs + i * d.T;
    score_grads<HS>(in, p, dout[i], i, d, dp, ds);
    for (std::int64_t j = 0; j <= i; ++j) {
      axpy<HS>(scale * ds[j], in.k[j], grad.q[i], d.hs);
      axpy<HS>(scale * ds[j], in.q[i], grad.k[j], d.hs);
      axpy<HS>(p[j], dout[i], grad.v[j], d.hs);
    }
  }
}

/// The VJP of backward: given cotangents g of (dQ, dK, dV), writes the gradients with
/// respect to Q, K, V (into out) and dO (into gdout). Each step differentiates one equation
/// of the backward, the last one first.
template <int HS, typename T>
void double_backward(const Dims& d, const T* qkv, const T* probs_all, const T* dout_all,
                     const T* g_all, T* out_all, T* gdout_all, std::int64_t b, std::int64_t h,
                     T* scratch) {
  const PackedHead<const T> in(qkv, d, b, h), g(g_all, d, b, h);
  const PackedHead<T> out(out_all, d, b, h);
  const auto dout = merged_head(dout_all, d, b, h);
  const auto gdout = merged_head(gdout_all, d, b, h);
  const T* probs = head_probs(probs_all, d, b, h);
  const T scale = scale_of<T>(d);
  T *dp = scratch, *ds = scratch + d.T, *gds = scratch + 2 * d.T, *gp = scratch + 3 * d.T;
  zero_rows<HS>(out.q, d.T, d.hs);
  zero_rows<HS>(out.k, d.T, d.hs);
  zero_rows<HS>(out.v, d.T, d.hs);
  zero_rows<HS>(gdout, d.T, d.hs);
  // Row i's sums into out.q[i] and gdout[i] are held in registers when the width is known.
  constexpr int kAcc = HS > 0 ? HS : 1;
  T local_q[kAcc], local_dout[kAcc];
  for (std::int64_t i = 0; i < d.T; ++i) {
    const T* p = probs + i * d.T;
    const T delta = score_grads<HS>(in, p, dout[i], i, d, dp, ds);
    T* acc_q = HS > 0 ? local_q : out.q[i];
    T* acc_dout = HS > 0 ? local_dout : gdout[i];
    if constexpr (HS > 0) {
      for (int c = 0; c < HS; ++c) local_q[c] = local_dout[c] = 0;
    }
    T gdelta = 0;
    for (std::int64_t j = 0; j <= i; ++j) {
      // dQ_i = s Σ_j dS_ij K_j and dK_j = s Σ_i dS_ij Q_i
      gds[j] = scale * (dot<HS>(g.q[i], in.k[j], d.hs) + dot<HS>(in.q[i], g.k[j], d.hs));
      axpy<HS>(scale * ds[j], g.q[i], out.k[j], d.hs);
      axpy<HS>(scale * ds[j], g.k[j], acc_q, d.hs);
      // dV_j = Σ_i P_ij dO_i
      gp[j] = dot<HS>(dout[i], g.v[j], d.hs);
      axpy<HS>(p[j], g.v[j], acc_dout, d.hs);
      // dS_ij = P_ij (dP_ij - δ_i)
      gp[j] += gds[j] * (dp[j] - delta);
      gdelta -= gds[j] * p[j];
    }
    T gp_dot_p = 0;
    for (std::int64_t j = 0; j <= i; ++j) {
      // δ_i = Σ_j P_ij dP_ij, then dP_ij = dO_i · V_j
      gp[j] += gdelta * dp[j];
      const T gdp = (gds[j] + gdelta) * p[j];
      axpy<HS>(gdp, in.v[j], acc_dout, d.hs);
      axpy<HS>(gdp, dout[i], out.v[j], d.hs);
      gp_dot_p += gp[j] * p[j];
    }
    for (std::int64_t j = 0; j <= i; ++j) {
      // P_i = softmax(S_i), S_ij = s Q_i · K_j
      const T gs = scale * p[j] * (gp[j] - gp_dot_p);
      axpy<HS>(gs, in.k[j], acc_q, d.hs);
      axpy<HS>(gs, in.q[i], out.k[j], d.hs);
    }
    if constexpr (HS > 0) {
      axpy<HS>(T(1), local_q, out.q[i], d.hs);
      axpy<HS>(T(1), local_dout, gdout[i], d.hs);
    }
  }
}

template <int HS, typename T>
AttentionKernelSet<T> kernel_set() {
  return {&forward<HS, T>, &backward<HS, T>, &double_backward<HS, T>};
}

/// Specialised kernels for the common head widths, generic ones otherwise.
template <typename T>
AttentionKernelSet<T> kernel_set_for(std::int64_t hs) {
  switch (hs) {
    case 16:
      return kernel_set<16, T>();
    case 32:
      return kernel_set<32, T>();
    case 64:
      return kernel_set<64, T>();
    default:
      return kernel_set<0, T>();
  }
}

}  // namespace

AttentionKernelSet<float> attention_kernels_f32(std::int64_t hs) {
  return kernel_set_for<float>(hs);
}
AttentionKernelSet<double> attention_kernels_f64(std::int64_t hs) {
  return kernel_set_for<double>(hs);
}

}  // namespace stars::kernels::STARS_KERNEL_ISA
