#pragma once
// Normalisation layers selectable by name: layernorm, rmsnorm, simplenorm (no affine).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"

namespace stars {

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(NormType type, std::int64_t dim);
  /// Normalises over the last dimension: (..., D) -> (..., D).
  torch::Tensor forward(const torch::Tensor& x);

  NormType type() const { return type_; }

 private:
  NormType type_;
  std::int64_t dim_;
  torch::Tensor weight_;  // (D), absent for simplenorm
  torch::Tensor bias_;    // (D), layernorm only
};
TORCH_MODULE(Norm);

/// While alive on this thread, layer norms are computed from elementary ops instead of the
/// fused kernel. LibTorch 1.13's fused layer_norm has a wrong third derivative (its double
/// backward is not correctly differentiable), which the JVP penalty's gradient needs.
class ComposedNormGuard {
 public:
  ComposedNormGuard();
  ~ComposedNormGuard();
  ComposedNormGuard(const ComposedNormGuard&) = delete;
  ComposedNormGuard& operator=(const ComposedNormGuard&) = delete;
  static bool active();

 private:
  bool previous_;
};

}  // namespace stars
