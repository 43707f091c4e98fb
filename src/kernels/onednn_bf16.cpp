#include "onednn_bf16.hpp"

#include "build_config.hpp"

#if STARS_WITH_ONEDNN

#include <cstdint>
#include <functional>
#include <unordered_map>

#include <torch/torch.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "gemm_autograd.hpp"

namespace stars::kernels {
namespace {

using torch::Tensor;

/// What a matmul primitive is built for: the product's sizes, the operands' strides and
/// whether a bias is added. Output and bias are dense float32.
struct ProductShape {
  std::int64_t m, k, n, a_row, a_col, b_row, b_col;
  bool bias;
  bool operator==(const ProductShape& o) const {
    return m == o.m && k == o.k && n == o.n && a_row == o.a_row && a_col == o.a_col &&
           b_row == o.b_row && b_col == o.b_col && bias == o.bias;
  }
};

struct ProductShapeHash {
  std::size_t operator()(const ProductShape& s) const {
    std::size_t h = std::hash<bool>{}(s.bias);
    for (auto v : {s.m, s.k, s.n, s.a_row, s.a_col, s.b_row, s.b_col})
      h = h * 1000003u ^ std::hash<std::int64_t>{}(v);
    return h;
  }
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc plain_desc(std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                              std::int64_t col_stride, dnnl::memory::data_type type) {
  return dnnl::memory::desc({rows, cols}, type, dnnl::memory::dims{row_stride, col_stride});
}

dnnl::matmul build_primitive(const ProductShape& s) {
  using dt = dnnl::memory::data_type;
  const auto a = plain_desc(s.m, s.k, s.a_row, s.a_col, dt::bf16);
  const auto b = plain_desc(s.k, s.n, s.b_row, s.b_col, dt::bf16);
  const auto c = plain_desc(s.m, s.n, s.n, 1, dt::f32);
  const auto bias = plain_desc(1, s.n, s.n, 1, dt::f32);
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul(s.bias ? dnnl::matmul::primitive_desc(cpu_engine(), a, b, bias, c)
                             : dnnl::matmul::primitive_desc(cpu_engine(), a, b, c));
#else
  const auto desc = s.bias ? dnnl::matmul::desc(a, b, bias, c) : dnnl::matmul::desc(a, b, c);
  return dnnl::matmul(dnnl::matmul::primitive_desc(desc, cpu_engine()));
#endif
}

/// Building a primitive costs far more than running one at these sizes, and a training step
/// repeats the same few shapes every loop: each thread keeps the ones it built. Shapes that
/// change every call (decoding's growing sequence) would grow it without end, so it is
/// emptied when full.
dnnl::matmul& primitive_for(const ProductShape& s) {
  constexpr std::size_t kMaxPrimitives = 256;
  thread_local std::unordered_map<ProductShape, dnnl::matmul, ProductShapeHash> cache;
  if (auto it = cache.find(s); it != cache.end()) return it->second;
  if (cache.size() >= kMaxPrimitives) cache.clear();
  return cache.emplace(s, build_primitive(s)).first->second;
}

/// t rounded to bfloat16 in a layout oneDNN reads in place: row-major, or the transpose of
/// a row-major matrix (a transposed view stays one).
Tensor bf16_operand(const Tensor& t) {
  auto r = t.to(torch::kBFloat16);
  const bool row_major = r.stride(1) == 1 && r.stride(0) >= std::max<std::int64_t>(1, r.size(1));
  const bool col_major = r.stride(0) == 1 && r.stride(1) >= std::max<std::int64_t>(1, r.size(0));
  return row_major || col_major ? r : r.contiguous();
}

/// a (M, K) @ b (K, N) [+ bias (N)] with a and b rounded to bfloat16, accumulated and
/// returned in float32.
Tensor bf16_product(const Tensor& a_in, const Tensor& b_in, const Tensor& bias) {
  const Tensor a = bf16_operand(a_in), b = bf16_operand(b_in);
  const auto m = a.size(0), k = a.size(1), n = b.size(1);
  auto c = torch::empty({m, n}, a_in.options().dtype(torch::kFloat));
  if (m == 0 || n == 0) return c;
  if (k == 0) return bias.defined() ? c.copy_(bias.expand_as(c)) : c.zero_();
  const ProductShape shape{m,           k,           n,           a.stride(0),
                           a.stride(1), b.stride(0), b.stride(1), bias.defined()};
  auto& primitive = primitive_for(shape);
  const auto& engine = cpu_engine();
  const auto desc = [](const Tensor& t, dnnl::memory::data_type type) {
    return plain_desc(t.size(0), t.size(1), t.stride(0), t.stride(1), type);
  };
  using dt = dnnl::memory::data_type;
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(desc(a, dt::bf16), engine, a.data_ptr())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(desc(b, dt::bf16), engine, b.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory(desc(c, dt::f32), engine, c.data_ptr())}};
  Tensor bias_row;
  if (bias.defined()) {
    bias_row = bias.to(torch::kFloat).contiguous();
    args.emplace(DNNL_ARG_BIAS,
                 dnnl::memory(plain_desc(1, n, n, 1, dt::f32), engine, bias_row.data_ptr()));
  }
  thread_local dnnl::stream stream(engine);
  primitive.execute(stream, args);
  stream.wait();
  return c;
}

}  // namespace

bool onednn_bf16_takes(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat;
}

torch::Tensor onednn_bf16_linear(const torch::Tensor& x, const torch::Tensor& weight,
                                 const torch::Tensor& bias) {
  // The backward's products are bf16 products too, so the penalty's double backward runs
  // on the same GEMM.
  return gemm_linear<bf16_product>(x, weight, bias);
}

}  // namespace stars::kernels

#else  // without oneDNN: the path is never taken

#include <stdexcept>

namespace stars::kernels {

bool onednn_bf16_takes(const torch::Tensor&) {
  return false;
}

torch::Tensor onednn_bf16_linear(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
  throw std::invalid_argument("onednn_bf16_linear: this build of stars has no oneDNN");
}

}  // namespace stars::kernels

#endif  // STARS_WITH_ONEDNN
