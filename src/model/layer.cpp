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
  auto linear = [&](std::int64_t in, std::int64_t out_features) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out_features).bias(cfg.bias));
  };
  attn = register_module("attn", CausalSelfAttention(cfg));
  if (cfg.mlp == MlpKind::gelu) {
    fc = register_module("fc", linear(cfg.d_model, cfg.d_ff));
    out = register_module("out", linear(cfg.d_ff, cfg.d_model));
  } else {
    gate = register_module("gate", linear(cfg.d_model, cfg.d_ff));
    up = register_module("up", linear(cfg.d_model, cfg.d_ff));
    down = register_module("down", linear(cfg.d_ff, cfg.d_model));
  }
  drop_ = register_module("drop", torch::nn::Dropout(cfg.dropout));
  auto norm = [&] { return Norm(cfg.norm_type, cfg.d_model, cfg.norm_eps); };
  if (placement_ != NormPlacement::post) {
    norm1_in = register_module("norm1_in", norm());
    norm2_in = register_module("norm2_in", norm());
  }
  if (placement_ != NormPlacement::pre) {
    norm1_out = register_module("norm1_out", norm());
    norm2_out = register_module("norm2_out", norm());
  }
}

torch::Tensor TransformerLayerImpl::mlp(const torch::Tensor& h) {
  if (fc) return kernels::linear(kernels::gelu(kernels::linear(h, fc)), out);
  return kernels::linear(torch::silu(kernels::linear(h, gate)) * kernels::linear(h, up), down);
}

torch::Tensor TransformerLayerImpl::forward(const torch::Tensor& x, KVCache* cache) {
  auto attend = [&](const torch::Tensor& h) { return drop_(attn(h, cache)); };
  auto feed_forward = [&](const torch::Tensor& h) { return drop_(mlp(h)); };
  auto h = apply_placement(placement_, x, attend, norm1_in, norm1_out);
  return apply_placement(placement_, h, feed_forward, norm2_in, norm2_out);
}

}  // namespace stars
