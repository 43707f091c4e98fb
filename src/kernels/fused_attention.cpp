#include "fused_attention.hpp"

#include <algorithm>

#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "attention_kernels.hpp"
#include "kernel_isa.hpp"
#include "stars/kernels/composed_ops.hpp"

namespace stars::kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The widest kernel build this CPU runs.
template <typename T>
AttentionKernelSet<T> select_kernels(std::int64_t hs) {
#ifdef STARS_KERNELS_X86_64_V3
  if (wide_kernels_allowed()) return STARS_KERNEL_ENTRY(T, x86_64_v3, attention_kernels)(hs);
#endif
  return STARS_KERNEL_ENTRY(T, generic, attention_kernels)(hs);
}

template <typename T>
AttentionKernelSet<T> kernels(const AttentionDims& d) {
  return select_kernels<T>(d.hs);
}

AttentionDims dims_of(const Tensor& qkv, std::int64_t heads) {
  const auto D = qkv.size(2) / 3;
  // The kernels write each head's columns, so the heads must cover the width exactly.
  TORCH_CHECK(heads > 0 && D % heads == 0, "fused attention: width ", D,
              " is not a multiple of the ", heads, " heads");
  return {qkv.size(0), qkv.size(1), D, heads, D / heads};
}

/// Runs fn(b, h, scratch) for every (sequence, head), split over LibTorch's threads.
template <typename T, typename Fn>
void for_each_head(const AttentionDims& d, std::int64_t scratch_rows, const Fn& fn) {
  at::parallel_for(0, d.B * d.H, /*grain_size=*/4, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> scratch(static_cast<std::size_t>(std::max<std::int64_t>(scratch_rows * d.T, 1)));
    for (auto i = begin; i < end; ++i) fn(i / d.H, i % d.H, scratch.data());
  });
}

std::tuple<Tensor, Tensor> forward_kernel(const Tensor& qkv, std::int64_t heads) {
  const auto d = dims_of(qkv, heads);
  auto out = torch::empty({d.B, d.T, d.D}, qkv.options());  // every head writes its columns
  auto probs = torch::empty({d.B, d.H, d.T, d.T}, qkv.options());
  AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "stars_attention_forward", [&] {
    const auto k = kernels<scalar_t>(d);
    const auto* in = qkv.data_ptr<scalar_t>();
    auto* o = out.data_ptr<scalar_t>();
    auto* pr = probs.data_ptr<scalar_t>();
    for_each_head<scalar_t>(
        d, 0, [&](std::int64_t b, std::int64_t h, scalar_t*) { k.forward(d, in, o, pr, b, h); });
  });
  return {out, probs};
}

Tensor backward_kernel(const Tensor& qkv, const Tensor& probs, const Tensor& dout,
                       std::int64_t heads) {
  const auto d = dims_of(qkv, heads);
  auto grad = torch::empty_like(qkv);  // each head writes its columns
  AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "stars_attention_backward", [&] {
    const auto k = kernels<scalar_t>(d);
    const auto* in = qkv.data_ptr<scalar_t>();
    const auto* pr = probs.data_ptr<scalar_t>();
    const auto* go = dout.data_ptr<scalar_t>();
    auto* gr = grad.data_ptr<scalar_t>();
    for_each_head<scalar_t>(d, 2, [&](std::int64_t b, std::int64_t h, scalar_t* scratch) {
      k.backward(d, in, pr, go, gr, b, h, scratch);
    });
  });
  return grad;
}

std::tuple<Tensor, Tensor> double_backward_kernel(const Tensor& qkv, const Tensor& probs,
                                                  const Tensor& dout, const Tensor& g,
                                                  std::int64_t heads) {
  const auto d = dims_of(qkv, heads);
  auto g_qkv = torch::empty_like(qkv);  // each head writes its columns
  auto g_dout = torch::empty_like(dout);
  AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "stars_attention_double_backward", [&] {
    const auto k = kernels<scalar_t>(d);
    const auto* in = qkv.data_ptr<scalar_t>();
    const auto* pr = probs.data_ptr<scalar_t>();
    const auto* go = dout.data_ptr<scalar_t>();
    const auto* gi = g.data_ptr<scalar_t>();
    auto* gq = g_qkv.data_ptr<scalar_t>();
    auto* gd = g_dout.data_ptr<scalar_t>();
    for_each_head<scalar_t>(d, 4, [&](std::int64_t b, std::int64_t h, scalar_t* scratch) {
      k.double_backward(d, in, pr, go, gi, gq, gd, b, h, scratch);
    });
  });
  return {g_qkv, g_dout};
}

/// A tensor to differentiate with respect to: t itself when it is part of a graph.
Tensor differentiable(const Tensor& t) {
  return t.requires_grad() ? t : t.detach().requires_grad_(true);
}

/// (qkv, dy, probs) -> dqkv: attention's backward as a differentiable function.
class AttentionBackward : public torch::autograd::Function<AttentionBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& qkv, const Tensor& dout,
                               const Tensor& probs, std::int64_t heads) {
    ctx->save_for_backward({qkv, dout, probs});
    ctx->saved_data["heads"] = heads;
    return {backward_kernel(qkv, probs, dout, heads)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto heads = ctx->saved_data["heads"].toInt();
    const auto g = grads[0].defined() ? grads[0].contiguous() : torch::zeros_like(saved[0]);
    if (torch::GradMode::is_enabled()) return third_order(saved[0], saved[1], g, heads);
    auto [g_qkv, g_dout] = double_backward_kernel(saved[0], saved[2], saved[1], g, heads);
    return {g_qkv, g_dout, Tensor(), Tensor()};
  }

 private:
  /// A graph of the double backward was asked for (a third derivative): the composed form
  /// provides it, slower but exact.
  static variable_list third_order(const Tensor& qkv, const Tensor& dout, const Tensor& g,
                                   std::int64_t heads) {
    auto x = differentiable(qkv), dy = differentiable(dout);
    auto y = composed_causal_attention(x, heads);
    auto dx = torch::autograd::grad({y}, {x}, {dy}, /*retain_graph=*/true, /*create_graph=*/true);
    auto gg = torch::autograd::grad(dx, {x, dy}, {g}, /*retain_graph=*/true,
                                    /*create_graph=*/true, /*allow_unused=*/true);
    return {gg[0], gg[1], Tensor(), Tensor()};
  }
};

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& qkv, std::int64_t heads) {
    auto [out, probs] = forward_kernel(qkv, heads);
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto heads = ctx->saved_data["heads"].toInt();
    const auto dout = grads[0].contiguous();
    return {AttentionBackward::apply(saved[0], dout, saved[1], heads)[0], Tensor()};
  }
};

}  // namespace

bool fused_attention_supports(const torch::Tensor& qkv) {
  const auto type = qkv.scalar_type();
  return qkv.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble) &&
         qkv.dim() == 3 && qkv.size(1) <= kFusedAttentionMaxLength;
}

torch::Tensor fused_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads) {
  TORCH_CHECK(fused_attention_supports(qkv), "fused attention: unsupported input ", qkv.sizes(),
              " ", qkv.dtype(), " on ", qkv.device());
  TORCH_CHECK(qkv.size(2) % (3 * n_heads) == 0, "fused attention: width ", qkv.size(2),
              " is not 3 x a multiple of ", n_heads, " heads");
  return FusedAttention::apply(qkv.contiguous(), n_heads)[0];
}

std::array<torch::Tensor, 3> split_heads(const torch::Tensor& qkv, std::int64_t n_heads) {
  const auto B = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / 3;
  auto parts = qkv.split(D, /*dim=*/2);
  auto heads = [&](const Tensor& t) {
    return t.view({B, T, n_heads, D / n_heads}).transpose(1, 2);
  };
  return {heads(parts[0]), heads(parts[1]), heads(parts[2])};
}

torch::Tensor matmul_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v,
                                      const std::function<Tensor(const Tensor&)>& on_probs,
                                      const torch::Tensor& left_pad) {
  const auto B = q.size(0), H = q.size(1), T = q.size(2), hs = q.size(3);
  const auto past = k.size(2) - T;
  auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hs));
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  const auto keys = torch::arange(past + T, opts).unsqueeze(0);       // (1, past + T)
  const auto queries = (torch::arange(T, opts) + past).unsqueeze(1);  // (T, 1)
  auto allowed = keys <= queries;                                     // (T, past + T)
  if (left_pad.defined()) {  // (B, 1, T, past + T): a row's padding keys only to themselves
    const auto pad = left_pad.to(q.device()).view({B, 1, 1, 1});
    allowed = allowed.logical_and(keys.ge(pad).logical_or(keys.eq(queries)));
  }
  att = torch::softmax(
      att.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity()), -1);
  if (on_probs) att = on_probs(att);                                     // (B, H, T, past + T)
  return torch::matmul(att, v).transpose(1, 2).reshape({B, T, H * hs});  // (B, T, D)
}

bool use_fused_attention(const torch::Tensor& qkv, std::int64_t cached_length,
                         bool dropout_active) {
  return cached_length == 0 && !dropout_active && !ComposedOpsGuard::active() &&
         fused_attention_supports(qkv);
}

torch::Tensor composed_causal_attention(const torch::Tensor& qkv, std::int64_t n_heads) {
  const auto [q, k, v] = split_heads(qkv, n_heads);
  return matmul_causal_attention(q, k, v);
}

}  // namespace stars::kernels
