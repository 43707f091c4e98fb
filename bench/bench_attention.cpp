// bench-attention: stars' fused CPU kernels against their references, alternating the two in
// one run: causal self-attention against the matmul + softmax form (ComposedOpsGuard), for
// the attention module (with its qkv and output projections) and the attention core alone
// (from the packed qkv); layer norm with the fused double backward against LibTorch's
// layer_norm; GELU with its fused double backward against LibTorch's gelu on the MLP's hidden
// activations; and the fused float32 kernels (attention core, layer norm, GELU) against
// LibTorch's on bfloat16, what bfloat16 activations would run (train.precision bf16 keeps them
// float32). Times the forward, forward + backward, and the Jacobian penalty's pattern (a VJP
// with a graph, then its backward), the two sides alternating repetition by repetition so
// that a load that comes and goes slows both alike. Prints one JSON line per measurement.
#include <array>
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kernels/fused_attention.hpp"
#include "kernels/fused_gelu.hpp"
#include "kernels/fused_layer_norm.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/attention.hpp"
#include "stars/util/cli.hpp"

namespace {

double elapsed_ms(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// The best time of each side over `repeats` alternating repetitions (after one warm-up each).
std::array<double, 2> best_ms_alternating(int repeats, const std::function<void(int)>& side) {
  std::array<double, 2> best{1e300, 1e300};
  for (int s = 0; s < 2; ++s) side(s);
  for (int r = 0; r < repeats; ++r)
    for (int s = 0; s < 2; ++s) best[s] = std::min(best[s], elapsed_ms([&] { side(s); }));
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fused against composed causal self-attention on the CPU."};
  int batch = 128, length = 17, d_model = 192, heads = 6, d_ff = 384, repeats = 20, threads = 1;
  app.add_option("--batch", batch, "sequences");
  app.add_option("--length", length, "tokens per sequence");
  app.add_option("--d-model", d_model, "model width");
  app.add_option("--heads", heads, "attention heads");
  app.add_option("--d-ff", d_ff, "MLP width (GELU's activations)");
  app.add_option("--repeats", repeats, "timed repetitions (best is reported)");
  app.add_option("--threads", threads, "LibTorch threads");
  CLI11_PARSE(app, argc, argv);
  return stars::run_cli("bench-attention", [&] {
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    stars::CausalSelfAttention attn(d_model, heads, 0.0);
    auto x = torch::randn({batch, length, d_model}).requires_grad_(true);
    auto v = torch::randn_like(x);
    auto packed = torch::randn({batch, length, 3 * d_model}).requires_grad_(true);
    auto packed_bf16 = packed.detach().to(torch::kBFloat16).requires_grad_(true);
    auto x_bf16 = x.detach().to(torch::kBFloat16).requires_grad_(true);
    const auto v_bf16 = v.to(torch::kBFloat16);
    auto module = [&](bool) { return attn(x); };
    auto core = [&](bool composed) {
      return composed ? stars::kernels::composed_causal_attention(packed, heads)
                      : stars::kernels::fused_causal_attention(packed, heads);
    };
    // The fused float32 core against LibTorch's matmul + softmax form on bfloat16 (its two
    // products through LibTorch's bf16 GEMM).
    auto core_bf16 = [&](bool reference) {
      return reference ? stars::kernels::composed_causal_attention(packed_bf16, heads)
                       : stars::kernels::fused_causal_attention(packed, heads);
    };
    auto w = torch::ones({d_model}).requires_grad_(true);
    auto b = torch::zeros({d_model}).requires_grad_(true);
    auto layer_norm = [&](bool reference) {
      return reference ? torch::layer_norm(x, {d_model}, w, b, 1e-5)
                       : stars::kernels::fused_layer_norm(x, w, b, 1e-5);
    };
    auto layer_norm_bf16 = [&](bool reference) {  // activations and affine weights in bf16
      return reference ? torch::layer_norm(x_bf16, {d_model}, w.to(torch::kBFloat16),
                                           b.to(torch::kBFloat16), 1e-5)
                       : stars::kernels::fused_layer_norm(x, w, b, 1e-5);
    };
    auto hidden = torch::randn({batch, length, d_ff}).requires_grad_(true);
    auto hidden_bf16 = hidden.detach().to(torch::kBFloat16).requires_grad_(true);
    auto gelu = [&](bool reference) {
      return reference ? torch::gelu(hidden) : stars::kernels::fused_gelu(hidden);
    };
    // The fused float32 GELU (which train.precision bf16 runs too, its hidden activations
    // being float32) against LibTorch's GELU on bfloat16, what bf16 activations would run.
    auto gelu_bf16 = [&](bool reference) {
      return reference ? torch::gelu(hidden_bf16) : stars::kernels::fused_gelu(hidden);
    };
    const auto g_hidden = torch::randn_like(hidden);
    struct Part {
      std::string name, reference;
      std::function<torch::Tensor(bool)> f;
      torch::Tensor input[2], cotangent[2];  // the fused side's, then the reference's
    };
    const std::vector<Part> parts{
        {"module", "matmul + softmax", module, {x, x}, {v, v}},
        {"core", "matmul + softmax", core, {packed, packed}, {v, v}},
        {"core_bf16",
         "matmul + softmax on bfloat16",
         core_bf16,
         {packed, packed_bf16},
         {v, v_bf16}},
        {"layer_norm", "LibTorch layer_norm", layer_norm, {x, x}, {v, v}},
        {"layer_norm_bf16",
         "LibTorch layer_norm on bfloat16",
         layer_norm_bf16,
         {x, x_bf16},
         {v, v_bf16}},
        {"gelu", "LibTorch gelu", gelu, {hidden, hidden}, {g_hidden, g_hidden}},
        {"gelu_bf16",
         "LibTorch gelu on bfloat16",
         gelu_bf16,
         {hidden, hidden_bf16},
         {g_hidden, g_hidden.to(torch::kBFloat16)}}};
    for (const auto& part : parts)
      for (const std::string pass : {"forward", "forward+backward", "vjp+backward"}) {
        auto run = [&](bool composed) {
          const auto& input = part.input[composed];
          const auto& cotangent = part.cotangent[composed];
          if (pass == "forward") {
            torch::NoGradGuard g;
            part.f(composed);
          } else if (pass == "forward+backward") {
            part.f(composed).backward(cotangent);
          } else {
            auto u = torch::autograd::grad({part.f(composed)}, {input}, {cotangent}, true, true)[0];
            u.pow(2).sum().backward();
          }
        };
        const auto ms = best_ms_alternating(repeats, [&](int composed) {
          std::optional<stars::ComposedOpsGuard> guard;
          if (composed) guard.emplace();
          run(composed == 1);
        });
        std::cout << nlohmann::json{{"pass", part.name + " " + pass},
                                    {"threads", threads},
                                    {"fused_ms", ms[0]},
                                    {"reference", part.reference},
                                    {"reference_ms", ms[1]},
                                    {"speedup", ms[1] / ms[0]}}
                         .dump()
                  << std::endl;
      }
    return 0;
  });
}
