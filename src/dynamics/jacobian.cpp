#include "stars/dynamics/jacobian.hpp"

#include <optional>

#include <torch/torch.h>

#include "stars/kernels/composed_ops.hpp"

namespace stars {
namespace {

constexpr double kTiny = 1e-12;

/// Norm per sample over all but the batch dimension, shaped to broadcast: (B, 1, ..., 1).
torch::Tensor sample_norms(const torch::Tensor& v) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(v.dim()), 1);
  shape[0] = v.size(0);
  return v.flatten(1).norm(2, 1).view(shape);
}

torch::Tensor normalize(const torch::Tensor& v, PowerIterationNorm how) {
  if (how == PowerIterationNorm::global) return v / (v.norm() + kTiny);
  return v / (sample_norms(v) + kTiny);
}

torch::Tensor magnitude(const torch::Tensor& u, PowerIterationNorm how) {
  if (how == PowerIterationNorm::global) return u.norm();
  return u.flatten(1).norm(2, 1);  // (B)
}

/// One product builder per (y, x): the JVP's inner VJP is built once and reused.
class ProductOperator {
 public:
  ProductOperator(const torch::Tensor& y, const torch::Tensor& x, JacobianProduct product)
      : y_(y), x_(x), product_(product) {
    if (product_ == JacobianProduct::jvp) {
      w_ = torch::zeros_like(y_).requires_grad_(true);
      g_ = torch::autograd::grad({y_}, {x_}, {w_}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    }
  }

  torch::Tensor apply(const torch::Tensor& v, bool create_graph) const {
    if (product_ == JacobianProduct::vjp)
      return torch::autograd::grad({y_}, {x_}, {v}, /*retain_graph=*/true, create_graph)[0];
    return torch::autograd::grad({g_}, {w_}, {v}, /*retain_graph=*/true, create_graph)[0];
  }

 private:
  torch::Tensor y_, x_, w_, g_;
  JacobianProduct product_;
};

}  // namespace

torch::Tensor vjp(const torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph) {
  return ProductOperator(y, x, JacobianProduct::vjp).apply(v, create_graph);
}

torch::Tensor jvp(const torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph) {
  return ProductOperator(y, x, JacobianProduct::jvp).apply(v, create_graph);
}

torch::Tensor vjp(const StateMap& f, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph) {
  torch::AutoGradMode grad_on(true);
  TwiceDifferentiatedGuard twice;  // f's graph is differentiated again (no fused SDPA)
  auto xg = x.detach().requires_grad_(true);
  return vjp(f(xg), xg, v, create_graph);
}

torch::Tensor jvp(const StateMap& f, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph) {
  torch::AutoGradMode grad_on(true);
  TwiceDifferentiatedGuard twice;  // f's graph is differentiated again (no fused SDPA)
  auto xg = x.detach().requires_grad_(true);
  return jvp(f(xg), xg, v, create_graph);
}

torch::Tensor power_iteration(const StateMap& f, const torch::Tensor& state,
                              const PowerIterationOptions& opts) {
  torch::AutoGradMode grad_on(true);
  TwiceDifferentiatedGuard twice;             // f's graph is differentiated again (no fused SDPA)
  std::optional<ComposedOpsGuard> exact_ops;  // the JVP penalty's gradient is a third derivative
  if (opts.product == JacobianProduct::jvp && opts.differentiable) exact_ops.emplace();
  auto x = state.detach().requires_grad_(true);  // only f's weights get gradients
  auto y = f(x);                                 // evaluated once, reused by every product
  ProductOperator op(y, x, opts.product);
  auto v = normalize(opts.start.defined() ? opts.start.to(x.options()) : torch::randn_like(x),
                     opts.normalize);
  torch::Tensor u;
  for (int i = 0; i < opts.iters; ++i) {
    const bool last = i + 1 == opts.iters;
    u = op.apply(v, last && opts.differentiable);
    if (!last) v = normalize(u.detach(), opts.normalize);
  }
  return magnitude(u, opts.normalize);
}

SpectralRadius spectral_radius(const StateMap& f, const torch::Tensor& state,
                               const SpectralRadiusOptions& opts) {
  torch::AutoGradMode grad_on(true);
  TwiceDifferentiatedGuard twice;  // f's graph is differentiated again (no fused SDPA)
  auto x = state.detach().requires_grad_(true);
  auto y = f(x);
  ProductOperator op(y, x, opts.product);
  auto v = normalize(torch::randn_like(x), PowerIterationNorm::per_sample);
  SpectralRadius out;
  torch::Tensor prev;
  for (out.iters = 1; out.iters <= opts.max_iters; ++out.iters) {
    auto u = op.apply(v, /*create_graph=*/false).detach();
    out.rho = magnitude(u, PowerIterationNorm::per_sample);
    v = normalize(u, PowerIterationNorm::per_sample);
    if (prev.defined() && ((out.rho - prev).abs() / (prev + kTiny)).max().item<double>() < opts.tol)
      break;
    prev = out.rho;
  }
  out.iters = std::min(out.iters, opts.max_iters);
  return out;
}

}  // namespace stars
