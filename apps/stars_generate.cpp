// stars-generate: text sampled from a trained LoopLM at one or more loop depths.
// Parses flags, loads the model, and hands over to stars::sample_text.
#include <functional>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/chat.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/prompt_format.hpp"
#include "stars/data/task.hpp"
#include "stars/data/text.hpp"
#include "stars/eval/depth_spec.hpp"
#include "stars/eval/sample.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/trainer.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

struct Args {
  std::string checkpoint, prompt, depths = "4", device = "auto", exit, tokenizer;
  stars::SampleOptions sample;
  int threads = 0;
  bool quiet = false, raw = false;
};

/// What a sample at `opts` continues `prompt` with: the user's turn of a chat, or the text.
using Sampler = std::function<stars::Sample(const stars::SampleOptions& opts)>;

/// A chat model answers the prompt as a user's turn (ChatML) up to its end of turn, or with
/// --raw continues the text as it is.
Sampler chat_sampler(const Args& a, stars::LoadedModel& loaded, torch::Device device) {
  const std::string path =
      stars::chat_model_tokenizer(a.checkpoint, loaded.config.data, a.tokenizer);
  if (path.empty())
    throw stars::ConfigError("no tokenizer beside " + a.checkpoint + "; give --tokenizer PATH");
  auto tok = std::make_shared<stars::BpeTokenizer>(stars::BpeTokenizer::load(path));
  const stars::ChatTemplate chat = stars::chat_template_for(path, loaded.config.data.system);
  const std::vector<std::int64_t> ids =
      a.raw ? tok->encode(a.prompt) : stars::chat_prompt({{"user", a.prompt}}, *tok, chat);
  const std::int64_t eos = a.raw ? -1 : *tok->id_of("<|im_end|>");
  return [&loaded, device, tok, ids, eos](const stars::SampleOptions& opts) {
    stars::Sample s = stars::sample_ids(loaded.model, ids, eos, opts, device);
    s.text = tok->decode(s.ids);
    return s;
  };
}

int run(const Args& a) {
  if (a.threads > 0) torch::set_num_threads(a.threads);
  const torch::Device device = stars::resolve_device(a.device);
  stars::LoadedModel loaded = stars::load_model(a.checkpoint, device);
  Sampler sample;
  if (stars::is_chat_task(loaded.config.data)) {
    sample = chat_sampler(a, loaded, device);
  } else {
    const stars::Tokenizer tok = stars::tokenizer_for(loaded.config.data);
    sample = [&loaded, device, tok, &a](const stars::SampleOptions& opts) {
      return stars::sample_text(loaded.model, tok, a.prompt, opts, device);
    };
  }
  if (!stars::is_text_task(loaded.config.data) && !stars::is_chat_task(loaded.config.data)) {
    const std::string warning =
        stars::training_format_warning(*stars::make_task(loaded.config.data), {a.prompt});
    if (!warning.empty()) spdlog::warn("{}", warning);
  }
  stars::SampleOptions base = a.sample;
  if (!a.exit.empty()) base.token_exit = stars::parse_token_exit(a.exit, "--exit");
  for (int depth : stars::parse_depths(a.depths)) {
    stars::SampleOptions opts = base;
    opts.n_loops = depth;
    const stars::Sample s = sample(opts);
    if (a.quiet) {
      std::cout << a.prompt << s.text << "\n";
      continue;
    }
    std::cout << "--- " << depth << " loops";
    if (opts.exit_tol > 0 || opts.token_exit.on())
      std::cout << " (adaptive exit: " << s.mean_loops << " loops per token)";
    std::cout << ", " << s.tokens << " tokens ---\n" << a.prompt << s.text << "\n";
  }
  return stars::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sample text from a trained LoopLM at chosen loop depths."};
  Args a;
  stars::tool::show_defaults(app);
  app.add_option("--checkpoint", a.checkpoint,
                 "run directory, checkpoint file or .safetensors file")
      ->required();
  app.add_option("--prompt", a.prompt,
                 "text to continue; for chat models the user's message, answered up to the end "
                 "of the assistant's turn")
      ->required();
  app.add_option("--tokenizer", a.tokenizer,
                 "chat models: the tokenizer (empty: the one saved beside the checkpoint)");
  app.add_flag("--raw", a.raw, "chat models: continue the prompt as plain text, without ChatML");
  app.add_option("--depths", a.depths, "loop depths, one sample each: 4, or 1,4,64");
  app.add_option("--max-tokens", a.sample.max_new_tokens, "tokens (bytes, for text) to generate")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--temperature", a.sample.temperature, "sampling temperature; 0: greedy")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", a.sample.top_k, "draw among the k most likely tokens (0: all)")
      ->check(CLI::Range(0, 1000000));
  stars::tool::add_seed_option(app, a.sample.seed,
                               "seed of the draws: the same seed repeats a sample");
  auto* exit_tol = stars::tool::add_exit_tol_option(app, a.sample.exit_tol);
  stars::tool::add_token_exit_option(app, a.exit, exit_tol);
  app.add_option("--device", a.device, "auto, cpu or cuda");
  app.add_option("--threads", a.threads, "LibTorch threads (0: LibTorch's default)")
      ->check(CLI::Range(0, 1024));
  stars::tool::add_quiet_flag(app, a.quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-generate", argc, argv)) return *code;
  return stars::run_cli("stars-generate", [&] {
    stars::tool::apply_quiet(a.quiet);
    return run(a);
  });
}
