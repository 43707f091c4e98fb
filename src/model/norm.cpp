#include "stars/model/norm.hpp"

#include <torch/torch.h>

#include "kernels/fused_layer_norm.hpp"

namespace stars {

constexpr double kEps = 1e-5;

NormImpl::NormImpl(NormType type, std::int64_t dim) : type_(type) {
  if (type_ != NormType::simplenorm) weight_ = register_parameter("weight", torch::ones({dim}));
  if (type_ == NormType::layernorm) bias_ = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  switch (type_) {
    case NormType::layernorm:
    case NormType::simplenorm:  // weight and bias are undefined: no affine part
      return kernels::layer_norm(x, weight_, bias_, kEps);
    case NormType::rmsnorm:
      return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + kEps) * weight_;
  }
  return x;
}

}  // namespace stars
