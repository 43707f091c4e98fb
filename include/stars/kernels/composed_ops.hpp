#pragma once
// Where LibTorch's fused kernels (layer norm) and stars' own (CPU attention) stop being
// exactly differentiable, the model can switch to the same functions written from
// elementary ops, whose derivatives of every order are exact.

namespace stars {

/// While alive on this thread, layer norms and attention are computed from elementary ops
/// instead of fused kernels. Needed for third derivatives: LibTorch 1.13's fused layer_norm
/// has a wrong one (its double backward is not correctly differentiable), and the JVP
/// penalty's gradient differentiates a double backward.
class ComposedOpsGuard {
 public:
  ComposedOpsGuard();
  ~ComposedOpsGuard();
  ComposedOpsGuard(const ComposedOpsGuard&) = delete;
  ComposedOpsGuard& operator=(const ComposedOpsGuard&) = delete;
  static bool active();

 private:
  bool previous_;
};

/// While alive on this thread, the graphs built will be differentiated twice (the Jacobian
/// products: a VJP whose result is differentiated again), so kernels without a double
/// backward are not used: LibTorch's fused scaled_dot_product_attention on CUDA has none
/// (its flash and memory-efficient backward kernels are not differentiable).
class TwiceDifferentiatedGuard {
 public:
  TwiceDifferentiatedGuard();
  ~TwiceDifferentiatedGuard();
  TwiceDifferentiatedGuard(const TwiceDifferentiatedGuard&) = delete;
  TwiceDifferentiatedGuard& operator=(const TwiceDifferentiatedGuard&) = delete;
  static bool active();

 private:
  bool previous_;
};

}  // namespace stars
