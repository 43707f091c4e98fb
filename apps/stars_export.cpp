// stars-export: a trained LoopLM written in the Hugging Face layout of Ouro's checkpoints
// (docs/pretrained.md). Parses flags, loads the model, and hands over to
// stars::export_hf_model.
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/train/checkpoint.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "stars/util/cli.hpp"
#include "tool_flags.hpp"

namespace {

struct Args {
  std::string checkpoint, out, dtype = "float32";
  std::uint64_t shard_size = 0;
  int loops = 4;
  bool quiet = false;
};

stars::safetensors::DType parse_dtype(const std::string& name) {
  if (name == "float32") return stars::safetensors::DType::F32;
  if (name == "bfloat16") return stars::safetensors::DType::BF16;
  if (name == "float16") return stars::safetensors::DType::F16;
  throw stars::ConfigError("--dtype " + name + ": expected float32, bfloat16 or float16");
}

int run(const Args& a) {
  stars::HfExportOptions options;
  options.dtype = parse_dtype(a.dtype);
  options.shard_bytes = a.shard_size;
  options.loops = a.loops;
  stars::LoadedModel loaded = stars::load_model(a.checkpoint, torch::kCPU);
  stars::export_hf_model(loaded.model, loaded.config, a.out, options);
  // A chat model's tokenizer travels with its weights, as a Hugging Face directory holds it.
  if (const std::string tok = stars::find_model_tokenizer(a.checkpoint); !tok.empty()) {
    stars::copy_tokenizer_files(tok, a.out);
    spdlog::info("copied the tokenizer from {}", tok);
  }
  spdlog::info(
      "wrote {} ({}, {}): read it with stars-eval --checkpoint {} or "
      "stars_torch.load_hf",
      a.out, loaded.path, a.dtype, a.out);
  return stars::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a trained LoopLM in the Hugging Face layout of Ouro's checkpoints."};
  Args a;
  stars::tool::show_defaults(app);
  app.add_option("--checkpoint", a.checkpoint,
                 "run directory, checkpoint file, .safetensors file or Hugging Face directory")
      ->required();
  app.add_option("--out", a.out, "directory to write (config.json and the weights)")->required();
  app.add_option("--dtype", a.dtype, "float32, bfloat16 or float16");
  app.add_option("--shard-size", a.shard_size,
                 "bytes per weights file; larger models are split with an index (0: one file)")
      ->check(CLI::Validator(
          [](std::string& text) {
            const bool digits =
                !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
            return digits ? std::string() : "must be a number of bytes >= 0, got " + text;
          },
          "BYTES"));
  app.add_option("--loops", a.loops, "config.json's total_ut_steps (Ouro's default depth)")
      ->check(CLI::Range(1, 1000000));
  stars::tool::add_quiet_flag(app, a.quiet);
  if (const auto code = stars::tool::parse_flags(app, "stars-export", argc, argv)) return *code;
  return stars::run_cli("stars-export", [&] {
    stars::tool::apply_quiet(a.quiet);
    return run(a);
  });
}
