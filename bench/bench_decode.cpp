// bench-decode: greedy decoding throughput with and without the per-loop KV cache at one
// depth, alternating the two in one run. Prints one JSON line.
#include <chrono>
#include <iostream>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stars/eval/decode.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/util/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Decode tokens/s with and without the KV cache."};
  std::string checkpoint;
  int depth = 64, n = 256, repeats = 3, threads = 1;
  app.add_option("--checkpoint", checkpoint, "run directory or checkpoint")->required();
  app.add_option("--depth", depth, "loops per token");
  app.add_option("--n", n, "problems per pass");
  app.add_option("--repeats", repeats, "passes of each mode");
  app.add_option("--threads", threads, "LibTorch threads");
  CLI11_PARSE(app, argc, argv);
  return stars::run_cli("bench-decode", [&] {
    torch::set_num_threads(threads);
    auto loaded = stars::load_model(checkpoint, torch::kCPU);
    loaded.model->eval();
    const auto task = stars::make_task(loaded.config.data);
    const auto examples = task->sample_batch(n, 7, 0);
    const auto tok = stars::Tokenizer::arithmetic();
    stars::DecodeOptions opts;
    opts.n_loops = depth;
    opts.max_new_tokens = task->max_answer_length() + 1;
    double secs[2] = {0, 0};
    // Both modes emit the same tokens; this counts decoding positions (eos padding included).
    const double per_pass = static_cast<double>(n) * opts.max_new_tokens;
    for (int r = 0; r < repeats; ++r)
      for (int cached = 0; cached < 2; ++cached) {
        opts.use_cache = cached == 1;
        const auto t0 = std::chrono::steady_clock::now();
        stars::decode_answers(loaded.model, examples, tok, opts, n, torch::kCPU);
        secs[cached] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    nlohmann::json out{{"depth", depth},
                       {"problems", n},
                       {"threads", threads},
                       {"tokens_per_pass", per_pass},
                       {"no_cache_tokens_per_s", per_pass * repeats / secs[0]},
                       {"cache_tokens_per_s", per_pass * repeats / secs[1]},
                       {"speedup", secs[0] / secs[1]}};
    std::cout << out.dump() << std::endl;
    return 0;
  });
}
