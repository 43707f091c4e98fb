#include "stars/model/norm.hpp"

#include <torch/torch.h>

#include "kernels/fused_layer_norm.hpp"

namespace stars {

NormImpl::NormImpl(NormType type, std::int64_t dim, double eps) : type_(type), eps_(eps) {
  if (type_ != NormType::simplenorm) weight_ = register_parameter("weight", torch::ones({dim}));
  if (type_ == NormType::layernorm) bias_ = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  switch (type_) {
    case NormType::layernorm:
    case NormType::simplenorm:  // weight and bias are undefined: no affine part
      return kernels::layer_norm(x, weight_, bias_, eps_);
    case NormType::rmsnorm: {
      const bool half = x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16;
      const auto x32 = half ? x.to(torch::kFloat) : x;  // float64 stays float64
      const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
      return weight_ * normed.to(x.scalar_type());
    }
  }
  return x;
}

}  // namespace stars
