#pragma once
// Models in the Hugging Face layout of Ouro's checkpoints (docs/pretrained.md): a directory
// with config.json (Ouro's keys, and the complete stars config under "stars" when stars
// wrote it) and the weights under Ouro's tensor names, in model.safetensors or in shards
// listed by model.safetensors.index.json, in float32, bfloat16 or float16. Every file is
// hostile input: names, shapes and keys are checked and refused naming them.
#include <cstdint>
#include <string>

#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/io/safetensors.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/checkpoint.hpp"

namespace stars {

/// True for a directory holding a Hugging Face model (config.json with Ouro's
/// "hidden_size", and no stars checkpoint).
bool is_hf_model_dir(const std::string& path);

/// The model settings the directory's config.json and tensors describe (stars-train --init
/// builds its model from them).
ModelConfig hf_model_config(const std::string& dir);

/// The model in `dir`, with the stars config stored under "stars" (stars-eval,
/// stars-generate). A directory without one is refused: its task and tokenizer are unknown.
LoadedModel load_hf_model(const std::string& dir, torch::Device device);

/// Copies the directory's weights into `model` (stars-train --init), refusing a missing,
/// unknown or mis-shaped tensor by name.
void load_hf_weights(const std::string& dir, LoopLM& model);

struct HfExportOptions {
  safetensors::DType dtype = safetensors::DType::F32;  // F32, BF16 or F16
  std::uint64_t shard_bytes =
      0;          // > 0: shards of at most this many bytes (one tensor may exceed it)
  int loops = 4;  // config.json's total_ut_steps
};

/// Writes `model` (Ouro-shaped: refused naming the first setting that is not) with `cfg`
/// into `dir` in the Hugging Face layout; files are written atomically.
void export_hf_model(LoopLM& model, const Config& cfg, const std::string& dir,
                     const HfExportOptions& options = {});

}  // namespace stars
