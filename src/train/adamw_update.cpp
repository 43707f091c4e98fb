#include "stars/train/adamw_update.hpp"

#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

#include "stars/config/errors.hpp"

// at::_fused_adamw_ arrived with LibTorch 2.0 and runs on CUDA only.
#if TORCH_VERSION_MAJOR >= 2
#define STARS_HAS_FUSED_ADAMW 1
#else
#define STARS_HAS_FUSED_ADAMW 0
#endif

namespace stars {

using torch::Tensor;
using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

std::string adamw_kernel_unavailable_reason(AdamWKernel kernel, const torch::Device& device) {
  if (kernel != AdamWKernel::fused) return "";
  if (!STARS_HAS_FUSED_ADAMW)
    return "LibTorch " TORCH_VERSION
           " has no fused AdamW kernel (at::_fused_adamw_ arrived in 2.0); use foreach or loop";
  if (!device.is_cuda())
    return "the fused AdamW kernel runs on CUDA only; on the CPU use loop (or foreach)";
  return "";
}

const char* adamw_kernel_name(AdamWKernel kernel) {
  switch (kernel) {
    case AdamWKernel::loop:
      return "loop";
    case AdamWKernel::foreach:
      return "foreach";
    case AdamWKernel::fused:
      return "fused";
  }
  return "?";
}

AdamWKernel resolve_adamw_kernel(const std::string& name, const torch::Device& device) {
  if (name == "auto") {
    if (!device.is_cuda()) return AdamWKernel::loop;
    return STARS_HAS_FUSED_ADAMW ? AdamWKernel::fused : AdamWKernel::foreach;
  }
  const std::map<std::string, AdamWKernel> kernels{{"loop", AdamWKernel::loop},
                                                   {"foreach", AdamWKernel::foreach},
                                                   {"fused", AdamWKernel::fused}};
  const auto it = kernels.find(name);
  if (it == kernels.end())
    throw ConfigError("train.adamw = \"" + name +
                      "\": not a kernel; expected auto, loop, foreach or fused");
  const std::string why = adamw_kernel_unavailable_reason(it->second, device);
  if (!why.empty()) throw ConfigError("train.adamw = " + name + " on " + device.str() + ": " + why);
  return it->second;
}

namespace {

/// The parameters of one group that share a step count after this update, with their state
/// (the multi-tensor kernels take one bias correction per call).
struct Bucket {
  std::vector<Tensor> params, grads, exp_avgs, exp_avg_sqs;
};

/// `param`'s TensorImpl address as `Key`: printed as c10::guts::to_string did (LibTorch 1.x,
/// a string key), or the pointer (2.x). A template, so that only the branch of the
/// LibTorch at hand is compiled.
template <typename Key>
Key state_key_of(const Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream printed;
    printed << param.unsafeGetTensorImpl();
    return printed.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

/// The state torch::optim::AdamW keeps for p, created as its step() would on first use.
AdamWParamState& param_state(torch::optim::AdamW& optimizer, const Tensor& p) {
  const OptimizerStateKey key = optimizer_state_key(p);
  auto& states = optimizer.state();
  auto it = states.find(key);
  if (it == states.end()) {
    auto state = std::make_unique<AdamWParamState>();
    state->step(0);
    state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    it = states.emplace(key, std::move(state)).first;
  }
  return static_cast<AdamWParamState&>(*it->second);
}

/// The parameters of `group` with a gradient, their steps advanced, bucketed by step.
std::map<std::int64_t, Bucket> gather(torch::optim::AdamW& optimizer,
                                      torch::optim::OptimizerParamGroup& group) {
  std::map<std::int64_t, Bucket> buckets;
  for (auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    TORCH_CHECK(!p.grad().is_sparse(), "AdamW does not support sparse gradients");
    auto& state = param_state(optimizer, p);
    state.step(state.step() + 1);
    Bucket& b = buckets[state.step()];
    b.params.push_back(p);
    b.grads.push_back(p.grad());
    b.exp_avgs.push_back(state.exp_avg());
    b.exp_avg_sqs.push_back(state.exp_avg_sq());
  }
  return buckets;
}

/// torch::optim::AdamW::step's arithmetic, operation for operation, over a bucket.
void foreach_update(Bucket& b, const AdamWOptions& o, std::int64_t step) {
  const auto [beta1, beta2] = o.betas();
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  if (o.weight_decay() != 0) at::_foreach_mul_(b.params, 1 - o.lr() * o.weight_decay());
  at::_foreach_mul_(b.exp_avgs, beta1);
  at::_foreach_add_(b.exp_avgs, b.grads, 1 - beta1);
  at::_foreach_mul_(b.exp_avg_sqs, beta2);
  at::_foreach_addcmul_(b.exp_avg_sqs, b.grads, b.grads, 1 - beta2);
  auto denom = at::_foreach_sqrt(b.exp_avg_sqs);
  at::_foreach_div_(denom, std::sqrt(bias_correction2));
  at::_foreach_add_(denom, o.eps());
  at::_foreach_addcdiv_(b.params, b.exp_avgs, denom, -o.lr() / bias_correction1);
}

#if STARS_HAS_FUSED_ADAMW
/// One fused kernel over a bucket; the kernel reads the (already advanced) step from a
/// float tensor per parameter, as PyTorch's AdamW(fused=True) passes it.
void fused_update(Bucket& b, const AdamWOptions& o, std::int64_t step) {
  std::vector<Tensor> steps;
  for (const auto& p : b.params)
    steps.push_back(torch::full({}, static_cast<double>(step), p.options().dtype(torch::kFloat)));
  const auto [beta1, beta2] = o.betas();
  at::_fused_adamw_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps,
                    o.lr(), beta1, beta2, o.weight_decay(), o.eps(), /*amsgrad=*/false,
                    /*maximize=*/false);
}
#endif

}  // namespace

OptimizerStateKey optimizer_state_key(const torch::Tensor& param) {
  return state_key_of<OptimizerStateKey>(param);
}

void adamw_update(torch::optim::AdamW& optimizer, AdamWKernel kernel) {
  if (kernel == AdamWKernel::loop) {
    optimizer.step();
    return;
  }
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const AdamWOptions&>(group.options());
    TORCH_CHECK(!options.amsgrad(), "train.adamw = ", adamw_kernel_name(kernel),
                ": amsgrad is supported by the loop kernel only");
    for (auto& [step, bucket] : gather(optimizer, group)) {
#if STARS_HAS_FUSED_ADAMW
      if (kernel == AdamWKernel::fused) {
        fused_update(bucket, options, step);
        continue;
      }
#endif
      TORCH_CHECK(kernel == AdamWKernel::foreach, "train.adamw = fused: ",
                  adamw_kernel_unavailable_reason(kernel, bucket.params.front().device()));
      foreach_update(bucket, options, step);
    }
  }
}

}  // namespace stars
