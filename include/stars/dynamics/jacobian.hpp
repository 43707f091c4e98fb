#pragma once
// The latent dynamics' Jacobian: products, power iteration and the spectral radius, as free
// functions over a state map f and a state x, independent of any model class. Training's
// Jacobian penalty (train/objective.hpp) and evaluation's diagnostics both build on them.
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
  JacobianProduct product = JacobianProduct::vjp;
  int iters = 1;
  PowerIterationNorm normalize = PowerIterationNorm::global;
  bool differentiable = true;  // last product built with create_graph
  torch::Tensor start;         // initial vector (state's shape); undefined: random normal
};

/// Runs `iters` steps of v <- P v / |P v| from a random (or the given) unit v (P = J or J^T) at
/// `state` (detached inside) and returns |P v| of the last step: a scalar for global normalisation,
/// (B) for per-sample normalisation.
torch::Tensor power_iteration(const StateMap& f, const torch::Tensor& state,
                              const PowerIterationOptions& opts);

struct SpectralRadiusOptions {
  int max_iters = 100;
  double tol = 1e-3;  // stop when every sample's estimate moved less than this, relatively
  JacobianProduct product = JacobianProduct::vjp;
};

struct SpectralRadius {
  torch::Tensor rho;  // (B): per-sample estimate of rho(J)
  int iters = 0;      // iterations run
};

/// No-grad spectral-radius estimate per sample, for diagnostics.
SpectralRadius spectral_radius(const StateMap& f, const torch::Tensor& state,
                               const SpectralRadiusOptions& opts = {});

}  // namespace stars
