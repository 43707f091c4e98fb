#pragma once
// One transformer layer (attention then a GELU or SwiGLU MLP), each sub-layer wrapped by the
// configured normalisation placement:
//   pre            x + f(N_in(x))
//   post           N_out(x + f(x))
//   pre_sandwich   x + N_out(f(N_in(x)))
//   post_sandwich  N_out(x + f(N_in(x)))
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"
#include "stars/model/attention.hpp"
#include "stars/model/norm.hpp"

namespace stars {

/// Applies a sub-layer f to x with the given placement; norms absent from it may be null.
torch::Tensor apply_placement(NormPlacement placement, const torch::Tensor& x,
                              const std::function<torch::Tensor(const torch::Tensor&)>& f,
                              Norm& norm_in, Norm& norm_out);

class TransformerLayerImpl : public torch::nn::Module {
 public:
  explicit TransformerLayerImpl(const ModelConfig& cfg);
  /// (B, T, D) -> (B, T, D); `cache` as in CausalSelfAttention.
  torch::Tensor forward(const torch::Tensor& x, KVCache* cache = nullptr);

  CausalSelfAttention attn{nullptr};
  torch::nn::Linear fc{nullptr};                                // gelu: (D) -> (F)
  torch::nn::Linear out{nullptr};                               // gelu: (F) -> (D)
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};  // swiglu: D -> F, D -> F, F -> D
  Norm norm1_in{nullptr}, norm1_out{nullptr}, norm2_in{nullptr}, norm2_out{nullptr};

 private:
  /// The MLP sub-layer: out(gelu(fc(h))) or down(silu(gate(h)) · up(h)).
  torch::Tensor mlp(const torch::Tensor& h);

  NormPlacement placement_;
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(TransformerLayer);

}  // namespace stars
