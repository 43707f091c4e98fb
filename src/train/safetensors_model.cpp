#include "stars/train/safetensors_model.hpp"

#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before {fmt} 11)
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "safetensors_tensors.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/text.hpp"
#include "stars/io/safetensors.hpp"
#include "weight_mismatch.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

constexpr const char* kConfigKey = "stars.config";
constexpr const char* kStepKey = "stars.step";

constexpr const char* kFileWhat = "a .safetensors file";

std::string shape_text(c10::IntArrayRef shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

/// Copies `tensors` into the model's parameters and buffers, refusing a missing, unknown or
/// mis-shaped name with `hint` for what to do.
void copy_weights(const std::map<std::string, torch::Tensor>& tensors, LoopLM& model,
                  const std::string& origin, const std::string& hint) {
  torch::NoGradGuard no_grad;
  std::size_t used = 0;
  auto copy = [&](const std::string& name, torch::Tensor& into) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw_weight_mismatch(origin, "it has no tensor '" + name + "'", hint);
    if (it->second.sizes() != into.sizes())
      throw_weight_mismatch(origin,
                            fmt::format("tensor '{}' is {} there and {} in this model", name,
                                        shape_text(it->second.sizes()), shape_text(into.sizes())),
                            hint);
    into.copy_(it->second);
    ++used;
  };
  for (auto& p : model->named_parameters()) copy(p.key(), p.value());
  for (auto& b : model->named_buffers()) copy(b.key(), b.value());
  if (used != tensors.size()) {
    std::vector<std::string> unknown;
    const auto params = model->named_parameters(), buffers = model->named_buffers();
    for (const auto& [name, t] : tensors)
      if (!params.contains(name) && !buffers.contains(name)) unknown.push_back(name);
    throw_weight_mismatch(
        origin,
        fmt::format("it holds tensors this model does not have: {}", fmt::join(unknown, ", ")),
        hint);
  }
}

Config config_of(const safetensors::File& file, const std::string& origin,
                 const std::string& fallback_config) {
  const auto it = file.metadata.find(kConfigKey);
  if (it != file.metadata.end())
    return parse_config(it->second, origin + " (metadata " + kConfigKey + ")");
  if (!fallback_config.empty() && fs::exists(fallback_config)) return load_config(fallback_config);
  throw DataError("'" + origin + "' has no '" + kConfigKey +
                  "' in its metadata and no config.json beside it; stars needs the model's "
                  "config to rebuild it (stars_torch.save writes it)");
}

/// The model a safetensors file describes: `file` its checked header, `file_size` its
/// length, `tensors` reads its tensors (from memory or from the file).
LoadedModel model_from_safetensors(
    const safetensors::File& file, std::uint64_t file_size,
    const std::function<std::map<std::string, torch::Tensor>()>& tensors, const std::string& origin,
    const std::string& fallback_config, torch::Device device) {
  LoadedModel out;
  out.path = origin;
  out.config = config_of(file, origin, fallback_config);
  if (const auto it = file.metadata.find(kStepKey); it != file.metadata.end()) {
    try {
      out.step = std::max<std::int64_t>(0, std::stoll(it->second));
    } catch (const std::exception&) {
      throw DataError("'" + origin + "': metadata " + kStepKey + " = \"" + it->second +
                      "\" is not a step count");
    }
  }
  const std::int64_t vocab = is_chat_task(out.config.data)
                                 ? chat_model_vocab_size(origin, out.config.data)
                                 : tokenizer_for(out.config.data).vocab_size();
  // Before the model is built: a config describing more weights than the file can hold (at
  // 2 bytes each, the smallest float type) is refused, so a hostile file cannot make the
  // loader allocate without bound.
  if (2 * parameter_count(out.config.model, vocab) > static_cast<double>(file_size))
    throw DataError("'" + origin + "': its config describes more weights than the file holds");
  out.model = LoopLM(out.config.model, vocab);
  copy_weights(tensors(), out.model, origin,
               "the file's tensors must match its config's model settings");
  out.model->to(device);
  return out;
}

}  // namespace

bool is_safetensors_path(const std::string& path) {
  return fs::path(path).extension() == ".safetensors";
}

void save_model_safetensors(LoopLM& model, const Config& cfg, std::int64_t step,
                            const std::string& path) {
  std::vector<safetensors::Blob> blobs;
  for (const auto& p : model->named_parameters()) blobs.push_back(to_blob(p.key(), p.value()));
  for (const auto& b : model->named_buffers()) blobs.push_back(to_blob(b.key(), b.value()));
  const std::map<std::string, std::string> metadata{
      {"format", "pt"}, {kConfigKey, nlohmann::json(cfg).dump()}, {kStepKey, std::to_string(step)}};
  write_bytes_atomically(path, safetensors::serialize(blobs, metadata));
}

LoadedModel load_model_safetensors_bytes(const std::string& bytes, const std::string& origin,
                                         const std::string& fallback_config, torch::Device device) {
  const safetensors::File file = safetensors::parse(bytes, origin);
  return model_from_safetensors(
      file, bytes.size(), [&] { return float_tensors(file, bytes, origin); }, origin,
      fallback_config, device);
}

LoadedModel load_model_safetensors(const std::string& path, torch::Device device) {
  verify_checksum(path);
  const safetensors::File file = read_safetensors_layout(path, kFileWhat);
  return model_from_safetensors(
      file, std::filesystem::file_size(path), [&] { return read_float_tensors(path, file); }, path,
      (fs::path(path).parent_path() / "config.json").string(), device);
}

void load_weights_safetensors(const std::string& path, LoopLM& model) {
  verify_checksum(path);
  const safetensors::File file = read_safetensors_layout(path, kFileWhat);
  copy_weights(read_float_tensors(path, file), model, path, kSameModelHint);
}

}  // namespace stars
