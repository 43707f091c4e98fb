#include "stars/model/norm.hpp"

#include <torch/torch.h>

#include "fused_layer_norm.hpp"

namespace stars {

namespace {

constexpr double kEps = 1e-5;

/// Layer norm from elementary ops: every derivative order is exact.
torch::Tensor composed_layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                                  const torch::Tensor& bias) {
  auto centered = x - x.mean(-1, /*keepdim=*/true);
  auto y = centered * torch::rsqrt(centered.pow(2).mean(-1, /*keepdim=*/true) + kEps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

}  // namespace

NormImpl::NormImpl(NormType type, std::int64_t dim) : type_(type), dim_(dim) {
  if (type_ != NormType::simplenorm) weight_ = register_parameter("weight", torch::ones({dim}));
  if (type_ == NormType::layernorm) bias_ = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  switch (type_) {
    case NormType::layernorm:
      if (ComposedOpsGuard::active()) return composed_layer_norm(x, weight_, bias_);
      if (detail::fused_layer_norm_supports(x))
        return detail::fused_layer_norm(x, weight_, bias_, kEps);
      return torch::layer_norm(x, {dim_}, weight_, bias_, kEps);
    case NormType::simplenorm:
      if (ComposedOpsGuard::active()) return composed_layer_norm(x, {}, {});
      return torch::layer_norm(x, {dim_}, {}, {}, kEps);
    case NormType::rmsnorm:
      return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + kEps) * weight_;
  }
  return x;
}

}  // namespace stars
