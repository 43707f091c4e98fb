#pragma once
// Model weights as safetensors: RUN/model.safetensors holds every parameter by name
// (float32) with the run's config in the metadata ("stars.config"), so that the file
// alone rebuilds the model, in C++ or in Python (python/stars_torch). Weights trained or
// edited elsewhere come back through stars-eval --checkpoint and stars-train --init.
#include <map>
#include <string>

#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/model/looplm.hpp"
#include "stars/train/checkpoint.hpp"

namespace stars {

/// True for a path that names a safetensors file (by its extension).
bool is_safetensors_path(const std::string& path);

/// Writes the model's weights and `cfg` to `path` atomically, with a checksum beside it.
void save_model_safetensors(LoopLM& model, const Config& cfg, std::int64_t step,
                            const std::string& path);

/// Rebuilds a model from the bytes of a safetensors file (`origin` names it in errors): its
/// config from the metadata, or from `fallback_config` (config.json beside the file) when
/// the metadata has none. Throws DataError when the file is malformed or its tensors do not
/// fit the config.
LoadedModel load_model_safetensors_bytes(const std::string& bytes, const std::string& origin,
                                         const std::string& fallback_config, torch::Device device);

/// load_model_safetensors_bytes on the file at `path` (checksum verified when it has one).
LoadedModel load_model_safetensors(const std::string& path, torch::Device device);

/// Copies the weights of the safetensors file at `path` into `model` (stars-train --init),
/// checking that every parameter is there with the model's shape.
void load_weights_safetensors(const std::string& path, LoopLM& model);

}  // namespace stars
