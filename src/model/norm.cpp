#include "stars/model/norm.hpp"

#include <torch/torch.h>

namespace stars {

namespace {
constexpr double kEps = 1e-5;
}

NormImpl::NormImpl(NormType type, std::int64_t dim) : type_(type), dim_(dim) {
  if (type_ != NormType::simplenorm) weight_ = register_parameter("weight", torch::ones({dim}));
  if (type_ == NormType::layernorm) bias_ = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  switch (type_) {
    case NormType::layernorm:
      return torch::layer_norm(x, {dim_}, weight_, bias_, kEps);
    case NormType::simplenorm:
      return torch::layer_norm(x, {dim_}, {}, {}, kEps);
    case NormType::rmsnorm:
      return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + kEps) * weight_;
  }
  return x;
}

}  // namespace stars
