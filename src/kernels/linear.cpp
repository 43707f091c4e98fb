#include "linear.hpp"

#include <atomic>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "build_config.hpp"
#include "gemm_autograd.hpp"
#include "onednn_bf16.hpp"
#include "stars/kernels/cpu_gemm.hpp"
#include "stars/kernels/precision.hpp"

#if STARS_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace stars {
namespace {

std::atomic<CpuGemm>& gemm_choice() {
  static std::atomic<CpuGemm> choice{cpu_gemm_from_environment()};
  return choice;
}

}  // namespace

CpuGemm cpu_gemm_from_environment() {
  const char* env = std::getenv("STARS_CPU_GEMM");
  const std::string value = env ? env : "";
  if (value.empty()) return onednn_gemm_available() ? CpuGemm::onednn : CpuGemm::blas;
  if (value == "blas") return CpuGemm::blas;
  if (value == "onednn" && onednn_gemm_available()) return CpuGemm::onednn;
  // A typo would otherwise run, and be recorded as, the default path.
  if (value == "onednn")
    throw std::invalid_argument(
        "STARS_CPU_GEMM=onednn, but this build of stars has no oneDNN; unset it or use blas");
  throw std::invalid_argument("STARS_CPU_GEMM='" + value +
                              "' is not one of blas, onednn (unset: the build's default, " +
                              (onednn_gemm_available() ? "onednn" : "blas") + ")");
}

bool onednn_gemm_available() {
#if STARS_WITH_ONEDNN
  return true;
#else
  return false;
#endif
}

CpuGemm cpu_gemm() {
  return gemm_choice().load(std::memory_order_relaxed);
}

void set_cpu_gemm(CpuGemm gemm) {
  if (gemm == CpuGemm::onednn && !onednn_gemm_available())
    throw std::invalid_argument("cpu gemm: this build of stars has no oneDNN (use blas)");
  gemm_choice().store(gemm, std::memory_order_relaxed);
}

const char* cpu_gemm_name(CpuGemm gemm) {
  return gemm == CpuGemm::onednn ? "onednn" : "blas";
}

namespace kernels {
namespace {

/// layer(x) with both operands of the product rounded to bfloat16 and the product widened
/// back to float32 (LibTorch's bf16 GEMM: oneDNN's on CPUs with native bf16, cuBLAS on
/// CUDA). The bias is added in float32. Made of differentiable LibTorch ops, so the
/// penalty's double backward runs through it, its products in bf16 as well.
torch::Tensor bf16_product(const torch::Tensor& x, const torch::Tensor& weight) {
  return torch::linear(x.to(torch::kBFloat16), weight.to(torch::kBFloat16)).to(torch::kFloat);
}

torch::Tensor bf16_linear(const torch::Tensor& x, const torch::nn::Linear& layer) {
  const auto y = bf16_product(x, layer->weight);
  return layer->bias.defined() ? y + layer->bias : y;
}

bool bf16_takes(const torch::Tensor& x) {
  return matmul_precision() == Precision::bf16 && x.scalar_type() == torch::kFloat;
}

/// bf16 products through oneDNN's matmul (float32 output, bias inside the GEMM) where the
/// CPU GEMM is oneDNN's; LibTorch's bf16 product otherwise (CUDA, or STARS_CPU_GEMM=blas).
bool onednn_bf16_path(const torch::Tensor& x) {
  return cpu_gemm() == CpuGemm::onednn && onednn_bf16_takes(x);
}

}  // namespace

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight) {
  if (bf16_takes(x) && onednn_bf16_path(x)) return onednn_bf16_linear(x, weight, {});
  if (bf16_takes(x)) return bf16_product(x, weight);
  return torch::matmul(x, weight.t());
}

#if STARS_WITH_ONEDNN
namespace {

using torch::Tensor;

/// A 2-D tensor as a row-major GEMM operand: the matrix itself ('N') or the transpose ('T')
/// of a row-major matrix, as a transposed view is; nullopt for other layouts.
struct Operand {
  char trans;
  std::int64_t ld;
};

std::optional<Operand> operand(const Tensor& t) {
  const auto rows = t.size(0), cols = t.size(1);
  if (t.stride(1) == 1 && t.stride(0) >= std::max<std::int64_t>(1, cols))
    return {{'N', t.stride(0)}};
  if (t.stride(0) == 1 && t.stride(1) >= std::max<std::int64_t>(1, rows))
    return {{'T', t.stride(1)}};
  return std::nullopt;
}

Tensor as_operand(const Tensor& t) {
  return operand(t) ? t : t.contiguous();
}

/// c (M, N, contiguous) = a (M, K) b (K, N) + beta c.
void sgemm(const Tensor& a_in, const Tensor& b_in, Tensor& c, float beta) {
  const Tensor a = as_operand(a_in), b = as_operand(b_in);
  const auto oa = *operand(a), ob = *operand(b);
  const auto M = a.size(0), K = a.size(1), N = b.size(1);
  const auto status = dnnl_sgemm(oa.trans, ob.trans, M, N, K, 1.0f, a.data_ptr<float>(), oa.ld,
                                 b.data_ptr<float>(), ob.ld, beta, c.data_ptr<float>(), N);
  TORCH_CHECK(status == dnnl_success, "oneDNN sgemm failed (status ", static_cast<int>(status),
              ") on (", M, " x ", K, ") @ (", K, " x ", N, ")");
}

/// a (M, K) @ b (K, N) + bias on oneDNN's sgemm, the bias written into the output before
/// the GEMM accumulates onto it (as LibTorch's addmm does).
Tensor fp32_product(const Tensor& a, const Tensor& b, const Tensor& bias) {
  if (a.size(0) == 0 || a.size(1) == 0 || b.size(1) == 0)
    return bias.defined() ? torch::addmm(bias, a, b) : torch::mm(a, b);
  auto c = torch::empty({a.size(0), b.size(1)}, a.options());
  if (bias.defined()) c.copy_(bias.expand_as(c));  // a fresh buffer: never the bias itself
  sgemm(a, b, c, bias.defined() ? 1.0f : 0.0f);
  return c;
}

bool onednn_takes(const torch::Tensor& x, const torch::Tensor& weight) {
  return cpu_gemm() == CpuGemm::onednn && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         weight.scalar_type() == torch::kFloat;
}

}  // namespace

torch::Tensor onednn_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "onednn_matmul: shapes ",
              a.sizes(), " and ", b.sizes(), " do not multiply");
  TORCH_CHECK(a.device().is_cpu() && a.scalar_type() == torch::kFloat && b.device().is_cpu() &&
                  b.scalar_type() == torch::kFloat,
              "onednn_matmul: CPU float32 operands only");
  return GemmMatmul<fp32_product>::apply(a, b);
}

torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer) {
  if (bf16_takes(x) && onednn_bf16_path(x))
    return onednn_bf16_linear(x, layer->weight, layer->bias);
  if (bf16_takes(x)) return bf16_linear(x, layer);
  if (!onednn_takes(x, layer->weight)) return layer.ptr()->forward(x);
  return gemm_linear<fp32_product>(x, layer->weight, layer->bias);
}

#else  // without oneDNN: LibTorch's matmul everywhere

torch::Tensor onednn_matmul(const torch::Tensor&, const torch::Tensor&) {
  throw std::invalid_argument("onednn_matmul: this build of stars has no oneDNN");
}

torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer) {
  if (bf16_takes(x)) return bf16_linear(x, layer);
  return layer.ptr()->forward(x);
}

#endif

}  // namespace kernels
}  // namespace stars
