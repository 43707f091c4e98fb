#include "stars/model/layer.hpp"

#include <torch/torch.h>

#include "kernels/fused_gelu.hpp"
#include "kernels/linear.hpp"

namespace stars {

torch::Tensor apply_placement(NormPlacement placement, const torch::Tensor& x,
                              const std::function<torch::Tensor(const torch::Tensor&)>& f,
                              Norm& norm_in, Norm& norm_out) {
  switch (placement) {
    case NormPlacement::pre:
      return x + f(norm_in(x));
    case NormPlacement::post:
      return norm_out(x + f(x));
    case NormPlacement::pre_sandwich:
      return x + norm_out(f(norm_in(x)));
    case NormPlacement::post_sandwich:
      return norm_out(x + f(norm_in(x)));
  }
  return x;
}

TransformerLayerImpl::TransformerLayerImpl(const ModelConfig& cfg)
    : placement_(cfg.norm_placement) {
  attn = register_module("attn", CausalSelfAttention(cfg.d_model, cfg.n_heads, cfg.dropout));
  fc = register_module("fc", torch::nn::Linear(cfg.d_model, cfg.d_ff));
  out = register_module("out", torch::nn::Linear(cfg.d_ff, cfg.d_model));
  drop_ = register_module("drop", torch::nn::Dropout(cfg.dropout));
  const bool has_in = placement_ != NormPlacement::post;
  const bool has_out = placement_ != NormPlacement::pre;
  if (has_in) {
    norm1_in = register_module("norm1_in", Norm(cfg.norm_type, cfg.d_model));
    norm2_in = register_module("norm2_in", Norm(cfg.norm_type, cfg.d_model));
  }
  if (has_out) {
    norm1_out = register_module("norm1_out", Norm(cfg.norm_type, cfg.d_model));
    norm2_out = register_module("norm2_out", Norm(cfg.norm_type, cfg.d_model));
  }
}

torch::Tensor TransformerLayerImpl::forward(const torch::Tensor& x, KVCache* cache) {
  auto attend = [&](const torch::Tensor& h) { return drop_(attn(h, cache)); };
  auto mlp = [&](const torch::Tensor& h) {
    return drop_(kernels::linear(kernels::gelu(kernels::linear(h, fc)), out));
  };
  auto h = apply_placement(placement_, x, attend, norm1_in, norm1_out);
  return apply_placement(placement_, h, mlp, norm2_in, norm2_out);
}

}  // namespace stars
