#pragma once
// The AdamW update by one of three kernels, as PyTorch's AdamW(foreach=..., fused=...):
//   loop     LibTorch's torch::optim::AdamW::step, a handful of kernels per parameter;
//   foreach  the same arithmetic as multi-tensor operations over all parameters at once
//            (at::_foreach_*), one launch per operation on CUDA instead of one per parameter
//            and operation;
//   fused    at::_fused_adamw_, the whole update in one CUDA kernel (LibTorch >= 2.0).
// All three read and write the state torch::optim::AdamW keeps (step, exp_avg, exp_avg_sq),
// so a checkpoint saved under one kernel resumes under any other, and the choice changes no
// file format.
#include <string>
#include <type_traits>
#include <utility>

#include <torch/optim/adamw.h>

namespace stars {

enum class AdamWKernel { loop, foreach, fused };

/// Why `kernel` cannot update parameters on `device` with this LibTorch build; empty where it
/// can.
std::string adamw_kernel_unavailable_reason(AdamWKernel kernel, const torch::Device& device);

/// train.adamw ("auto", "loop", "foreach", "fused") on `device`. auto: fused on CUDA where
/// LibTorch has it, foreach on other CUDA builds, loop on the CPU (where LibTorch runs each
/// foreach operation as the per-parameter kernels one after another). A ConfigError that
/// names the key and what would run where the kernel cannot.
AdamWKernel resolve_adamw_kernel(const std::string& name, const torch::Device& device);

/// Name of `kernel` as train.adamw spells it.
const char* adamw_kernel_name(AdamWKernel kernel);

/// The key type of the state LibTorch's optimisers keep per parameter: the parameter's
/// TensorImpl address printed to a string in LibTorch 1.x, the address itself in 2.x.
using OptimizerStateKey =
    std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

/// The key under which LibTorch's optimisers keep `param`'s state, in either version.
OptimizerStateKey optimizer_state_key(const torch::Tensor& param);

/// One AdamW update of the optimiser's parameters that have a gradient (the others keep their
/// value and state, as in torch::optim::AdamW::step). amsgrad is not supported by foreach and
/// fused (stars never sets it): they refuse it.
void adamw_update(torch::optim::AdamW& optimizer, AdamWKernel kernel);

}  // namespace stars
