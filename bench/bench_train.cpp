// bench-train: times training steps of one configuration and a reference sgemm in the same
// process, and prints one JSON line: step time, tokens/s, model FLOP/s and its fraction
// of the measured sgemm rate (of the GEMM the linear layers ran: oneDNN's or LibTorch's
// BLAS, --gemm). scripts/bench_train.sh runs it beside the Python peer. --profile FILE
// records further steps, after the timed ones so that the timing carries no profiler
// overhead, as a Chrome trace of LibTorch's ops (scripts/profile_report.py sums it per op).
#include <chrono>
#include <iostream>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kernels/linear.hpp"
#include "stars/config/config.hpp"
#include "stars/dist/group.hpp"
#include "stars/kernels/cpu_gemm.hpp"
#include "stars/train/trainer.hpp"
#include "stars/util/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using Matmul = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&);

torch::Tensor libtorch_mm(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::mm(a, b);
}

/// Matmul GFLOP/s on (n x n) @ (n x n) in `dtype` on `device`, best of a few repeats.
/// Reading one element back waits for the device, so CUDA timings are complete.
double gemm_gflops(int n, torch::Dtype dtype, torch::Device device, Matmul mm = libtorch_mm) {
  const auto opts = torch::TensorOptions().dtype(dtype).device(device);
  auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  mm(a, b)[0][0].item<float>();
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    torch::Tensor c;
    for (int i = 0; i < 4; ++i) c = mm(a, b);
    c[0][0].item<float>();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 4 * 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

/// Matmul FLOPs of forward + backward (3x forward) of the LM for one step, excluding JSRR:
/// per layer the query and output projections, the key and value projections (of
/// n_kv_heads heads under grouped-query attention), the MLP's two products (GELU) or three
/// (SwiGLU) and attention's two (T x T) products; then the head over the vocabulary.
double lm_flops(const stars::ModelConfig& m, std::int64_t B, std::int64_t T, double loops,
                std::int64_t V) {
  const double D = m.d_model, F = m.d_ff;
  const double kv = m.n_kv_heads > 0 ? D * m.n_kv_heads / m.n_heads : D;
  const double mlp_products = m.mlp == stars::MlpKind::swiglu ? 3 : 2;
  const double per_token_layer =
      2 * (2 * D * D + 2 * D * kv + mlp_products * D * F) + 2 * 2 * T * D;
  const double layers = loops * m.n_core_layers + m.n_prelude_layers + m.n_coda_layers;
  const double forward = B * T * (layers * per_token_layer + 2 * D * V);
  return 3 * forward;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time training steps of a stars config."};
  std::string config_path;
  std::vector<std::string> overrides;
  int steps = 30, warm = 5, threads = 1;
  int profile_steps = 3;
  std::string label = "stars", device_name = "cpu", profile_path;
  std::string gemm_name = stars::cpu_gemm_name(stars::cpu_gemm());
  app.add_option("--config", config_path, "JSON config (default: embedded)");
  app.add_option("--set", overrides, "key.path=value overrides");
  app.add_option("--steps", steps, "timed steps");
  app.add_option("--warm", warm, "untimed warm-up steps");
  app.add_option("--threads", threads, "LibTorch threads");
  app.add_option("--label", label, "name printed in the JSON line");
  app.add_option("--device", device_name, "cpu or cuda");
  app.add_option("--gemm", gemm_name, "CPU GEMM of the linear layers")
      ->check(CLI::IsMember({"onednn", "blas"}));
  app.add_option("--profile", profile_path, "write a Chrome trace of further steps to this file");
  app.add_option("--profile-steps", profile_steps, "steps recorded by --profile")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return stars::run_cli("bench-train", [&] {
    torch::set_num_threads(threads);
    stars::set_cpu_gemm(gemm_name == "blas" ? stars::CpuGemm::blas : stars::CpuGemm::onednn);
    stars::Config cfg = config_path.empty() ? stars::Config{} : stars::load_config(config_path);
    cfg = stars::apply_overrides(cfg, overrides);
    cfg.phases.resize(1);  // time the first phase only
    cfg.phases[0].steps = warm + steps + (profile_path.empty() ? 0 : profile_steps);
    cfg.phases[0].jacobian_penalty.start_step = 0;
    torch::Device device = stars::resolve_device(device_name);
    // Under torchrun the steps are data-parallel; rank 0 reports the global throughput.
    const auto group = stars::dist::join_from_env(cfg.train, device);
    stars::TrainerOptions opts;
    opts.group = group.get();
    stars::Trainer trainer(cfg, opts, device);
    for (int s = 0; s < warm; ++s) trainer.train_step(s);
    std::int64_t tokens = 0;
    double loops = 0, flops = 0;
    const auto t0 = Clock::now();
    for (int s = warm; s < warm + steps; ++s) {
      const auto st = trainer.train_step(s);
      tokens += st.tokens;
      loops += st.loops;
      const std::int64_t T = st.tokens / cfg.train.batch - 1;
      flops += lm_flops(cfg.model, cfg.train.batch, T, st.loops, trainer.model()->vocab_size());
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!profile_path.empty()) {
      torch::autograd::profiler::RecordProfile record(profile_path);
      for (int s = warm + steps; s < warm + steps + profile_steps; ++s) trainer.train_step(s);
    }
    // Each step ends by reading its loss back, so the device has finished it.
    const int n = device.is_cuda() ? 8192 : 512;
    // Not under torchrun: the ranks would time their GEMMs against each other.
    const double blas = group ? 0.0 : gemm_gflops(n, torch::kFloat, device);
    const bool onednn = device.is_cpu() && stars::cpu_gemm() == stars::CpuGemm::onednn;
    const double onednn_rate =
        onednn && !group ? gemm_gflops(n, torch::kFloat, device, stars::kernels::onednn_matmul)
                         : 0.0;
    const bool in_bf16 = cfg.train.precision == "bf16";
    const double bf16 =
        device.is_cuda() || in_bf16 ? gemm_gflops(n, torch::kBFloat16, device) : 0.0;
    // The GEMM that the linear layers ran: LibTorch's bf16 one under train.precision bf16.
    const double gemm = in_bf16 ? bf16 : onednn ? onednn_rate : blas;
    nlohmann::json out{{"label", label},
                       {"threads", threads},
                       {"steps", steps},
                       {"mean_loops", loops / steps},
                       {"step_ms", 1e3 * secs / steps},
                       {"tokens_per_s", tokens / secs},
                       {"model_gflops", flops / secs / 1e9},
                       {"device", device.str()},
                       {"gemm", in_bf16  ? "bf16"
                                : onednn ? "onednn"
                                         : "blas"},
                       {"precision", cfg.train.precision},
                       {"sgemm_gflops", gemm},
                       {"blas_sgemm_gflops", blas},
                       {"bf16_gemm_gflops", bf16},
                       {"mfu", gemm > 0 ? flops / secs / 1e9 / gemm : 0.0}};
    if (group) out["world_size"] = group->world_size();
    if (!group || group->rank() == 0) std::cout << out.dump() << std::endl;
    return 0;
  });
}
