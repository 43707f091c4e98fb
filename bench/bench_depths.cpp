// bench-depths: the cost of a depth sweep. Decodes `n` problems at every depth of a spec
// one depth at a time and in one shared pass (alternating the two, `repeats` times each),
// checks that both give the same answers, and times training steps (forward and backward
// at the spec's mean depth) on the same model and problems, so that evaluation's and
// training's loop-tokens per second come from one run. Prints one JSON line.
//   loop-tokens: positions processed x loops run over them (for decoding: prompt and
//   generated positions at each depth, summed over the depths).
#include <chrono>
#include <iostream>
#include <numeric>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stars/data/batch.hpp"
#include "stars/eval/decode.hpp"
#include "stars/eval/depth_spec.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/objective.hpp"
#include "stars/util/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Seconds of `steps` forward + backward passes at `loops` on `batch`.
double time_training(stars::LoopLM& model, const stars::Batch& batch, int loops, int steps) {
  model->train();
  stars::ObjectiveOptions opts;
  opts.forward.n_loops = loops;
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) {
    model->zero_grad();
    stars::stars_objective(model, batch, opts).loss.backward();
  }
  model->eval();
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Depth-sweep decoding (per depth and shared) against training, in loop-tokens/s."};
  std::string checkpoint, spec = "1..16,24,32,48,64,128,256";
  int n = 256, repeats = 1, threads = 1, train_steps = 5;
  app.add_option("--checkpoint", checkpoint, "run directory or checkpoint")->required();
  app.add_option("--depths", spec, "depth spec of the sweep");
  app.add_option("--n", n, "problems");
  app.add_option("--repeats", repeats, "passes of each decoding mode");
  app.add_option("--train-steps", train_steps, "timed training steps");
  app.add_option("--threads", threads, "LibTorch threads");
  CLI11_PARSE(app, argc, argv);
  return stars::run_cli("bench-depths", [&] {
    torch::set_num_threads(threads);
    auto loaded = stars::load_model(checkpoint, torch::kCPU);
    auto& model = loaded.model;
    model->eval();
    const auto task = stars::make_task(loaded.config.data);
    const auto examples = task->sample_batch(n, 7, 0);
    const auto tok = stars::Tokenizer::arithmetic();
    const auto depths = stars::parse_depths(spec);
    stars::DecodeOptions opts;
    opts.max_new_tokens = task->max_answer_length() + 1;
    double per_depth_s = 0, shared_s = 0;
    bool same = true;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = Clock::now();
      std::vector<std::vector<std::string>> single;
      for (int d : depths) {
        opts.n_loops = d;
        single.push_back(stars::decode_answers(model, examples, tok, opts, n, torch::kCPU).texts);
      }
      per_depth_s += seconds_since(t0);
      t0 = Clock::now();
      const auto shared =
          stars::decode_answers_at_depths(model, examples, tok, depths, opts, n, torch::kCPU);
      shared_s += seconds_since(t0);
      for (std::size_t i = 0; i < depths.size(); ++i) same = same && shared[i].texts == single[i];
    }
    // Decoding positions: the prompt once, then one per generated token (eos padding
    // included, as the decoder runs them), each through d loops.
    const double positions =
        static_cast<double>(examples[0].prompt.size() + opts.max_new_tokens - 1);
    const double loop_sum = std::accumulate(depths.begin(), depths.end(), 0.0);
    const double decode_loop_tokens = n * positions * loop_sum * repeats;
    const stars::Batch batch = stars::make_batch(examples, tok, torch::kCPU);
    const int train_loops =
        std::max(1, static_cast<int>(std::lround(loop_sum / static_cast<double>(depths.size()))));
    const double train_s = time_training(model, batch, train_loops, train_steps);
    const double train_loop_tokens =
        static_cast<double>(batch.inputs.numel()) * train_loops * train_steps;
    nlohmann::json out{{"depths", spec},
                       {"problems", n},
                       {"threads", threads},
                       {"same_answers", same},
                       {"per_depth_s", per_depth_s / repeats},
                       {"shared_s", shared_s / repeats},
                       {"shared_speedup", per_depth_s / shared_s},
                       {"decode_loop_tokens_per_s", decode_loop_tokens / per_depth_s},
                       {"shared_decode_loop_tokens_per_s", decode_loop_tokens / shared_s},
                       {"train_loops", train_loops},
                       {"train_loop_tokens_per_s", train_loop_tokens / train_s}};
    std::cout << out.dump() << std::endl;
    return same ? 0 : 1;
  });
}
