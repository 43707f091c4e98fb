#pragma once
// Jacobian products, power iteration and the Jacobian spectral-radius regulariser (JSRR),
// as free functions over a state map f and a state x, independent of any model class.
// J = df/dx at x. J and J^T share eigenvalues, so either product estimates rho(J).
#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

/// v^T J (the VJP) at x; x must require grad and y = f(x) must have been built from it.
torch::Tensor vjp(const torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph);
/// J v (the JVP) by the double-VJP trick: g(w) = J^T w, then J v = d(g . v)/dw. Unlike
/// forward-mode AD it stays differentiable in f's weights on LibTorch 1.13.
torch::Tensor jvp(const torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph);

/// Convenience forms that evaluate y = f(x) themselves.
torch::Tensor vjp(const StateMap& f, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph = false);
torch::Tensor jvp(const StateMap& f, const torch::Tensor& x, const torch::Tensor& v,
                  bool create_graph = false);

struct PowerIterationOptions {
  Product product = Product::vjp;
  int iters = 1;
  PowerNorm normalize = PowerNorm::global;
  bool differentiable = true;  // last product built with create_graph
  torch::Tensor start;         // initial vector (state's shape); undefined: random normal
};

/// Runs `iters` steps of v <- P v / |P v| from a random (or the given) unit v (P = J or J^T) at
/// `state` (detached inside) and returns |P v| of the last step: a scalar for global normalisation,
/// (B) for per-sample normalisation.
torch::Tensor power_iteration(const StateMap& f, const torch::Tensor& state,
                              const PowerIterationOptions& opts);

/// The JSRR term R from `cfg`: mean over samples of |u|^2 (square) or
/// max(0, |u| - target)^2 (hinge). Differentiable only in f's weights.
/// `start`: the power iteration's first vector (shaped like state); undefined: drawn from
/// torch's default generator.
torch::Tensor jsrr_penalty(const StateMap& f, const torch::Tensor& state, const RegConfig& cfg,
                           const torch::Tensor& start = {});

/// (1 - weight) * ce + weight * reg.
torch::Tensor mix_loss(const torch::Tensor& ce, const torch::Tensor& reg, double weight);

struct SpectralRadiusOptions {
  int max_iters = 100;
  double tol = 1e-3;  // stop when every sample's estimate moved less than this, relatively
  Product product = Product::vjp;
};

struct SpectralRadius {
  torch::Tensor rho;  // (B): per-sample estimate of rho(J)
  int iters = 0;      // iterations run
};

/// No-grad spectral-radius estimate per sample, for diagnostics.
SpectralRadius spectral_radius(const StateMap& f, const torch::Tensor& state,
                               const SpectralRadiusOptions& opts = {});

}  // namespace stars
