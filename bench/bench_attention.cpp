// bench-attention: stars' fused CPU kernels against their references, alternating the two in
// one run: causal self-attention against the matmul + softmax form (ComposedOpsGuard), for
// the attention module (with its qkv and output projections) and the attention core alone
// (from the packed qkv); and layer norm with the fused double backward against LibTorch's
// layer_norm. Times the forward, forward + backward, and the Jacobian penalty's pattern (a
// VJP with a graph, then its backward). Prints one JSON line per measurement.
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kernels/fused_attention.hpp"
#include "kernels/fused_layer_norm.hpp"
#include "stars/kernels/composed_ops.hpp"
#include "stars/model/attention.hpp"
#include "stars/util/cli.hpp"

namespace {

double best_ms(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fused against composed causal self-attention on the CPU."};
  int batch = 128, length = 17, d_model = 192, heads = 6, repeats = 20, threads = 1;
  app.add_option("--batch", batch, "sequences");
  app.add_option("--length", length, "tokens per sequence");
  app.add_option("--d-model", d_model, "model width");
  app.add_option("--heads", heads, "attention heads");
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
    auto module = [&](bool) { return attn(x); };
    auto core = [&](bool composed) {
      return composed ? stars::kernels::composed_causal_attention(packed, heads)
                      : stars::kernels::fused_causal_attention(packed, heads);
    };
    auto w = torch::ones({d_model}).requires_grad_(true);
    auto b = torch::zeros({d_model}).requires_grad_(true);
    auto layer_norm = [&](bool reference) {
      return reference ? torch::layer_norm(x, {d_model}, w, b, 1e-5)
                       : stars::kernels::fused_layer_norm(x, w, b, 1e-5);
    };
    using Fn = std::function<torch::Tensor(bool)>;
    const auto input = [&](const std::string& part) { return part == "core" ? packed : x; };
    const std::vector<std::pair<std::string, Fn>> parts{
        {"module", module}, {"core", core}, {"layer_norm", layer_norm}};
    for (const auto& [part, f] : parts)
      for (const std::string pass : {"forward", "forward+backward", "vjp+backward"}) {
        auto run = [&, f = f, part = part](bool composed) {
          if (pass == "forward") {
            torch::NoGradGuard g;
            f(composed);
          } else if (pass == "forward+backward") {
            f(composed).backward(v);
          } else {
            auto u = torch::autograd::grad({f(composed)}, {input(part)}, {v}, true, true)[0];
            u.pow(2).sum().backward();
          }
        };
        double ms[2];
        for (int composed = 0; composed < 2; ++composed) {
          std::optional<stars::ComposedOpsGuard> guard;
          if (composed) guard.emplace();
          ms[composed] = best_ms(repeats, [&] { run(composed == 1); });
        }
        const auto name = part + " " + pass;
        const char* reference = part == "layer_norm" ? "LibTorch layer_norm" : "matmul + softmax";
        std::cout << nlohmann::json{{"pass", name},          {"threads", threads},
                                    {"fused_ms", ms[0]},     {"reference", reference},
                                    {"reference_ms", ms[1]}, {"speedup", ms[1] / ms[0]}}
                         .dump()
                  << std::endl;
      }
    return 0;
  });
}
