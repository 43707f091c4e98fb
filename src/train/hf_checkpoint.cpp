#include "stars/train/hf_checkpoint.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "hf_layout.hpp"
#include "safetensors_tensors.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/text.hpp"
#include "weight_mismatch.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kGateTensor = "model.early_exit_gate.weight";

std::string path_in(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

/// The model's tensors as stored: each file's layout, and where each tensor is. Only the
/// headers are read; the weights are read later, one tensor at a time.
struct StoredWeights {
  struct Where {
    std::string path;
    std::size_t entry = 0;  // index into files[path].entries
  };
  std::map<std::string, safetensors::File> files;  // by path
  std::map<std::string, Where> where;              // by tensor name

  std::map<std::string, std::vector<std::int64_t>> shapes() const {
    std::map<std::string, std::vector<std::int64_t>> out;
    for (const auto& [name, w] : where) out[name] = files.at(w.path).entries[w.entry].shape;
    return out;
  }
};

/// The layout of one safetensors file of the weights, its dtypes checked.
const safetensors::File& add_weights_file(StoredWeights& stored, const std::string& path) {
  auto layout = read_safetensors_layout(path, "a .safetensors file of the model's weights");
  require_float_entries(layout, path);
  for (std::size_t i = 0; i < layout.entries.size(); ++i)
    stored.where[layout.entries[i].name] = {path, i};
  return stored.files[path] = std::move(layout);
}

/// The shards an index lists, each tensor checked to be where the index says.
StoredWeights read_shard_layouts(const std::string& dir) {
  const std::string index_path = path_in(dir, kIndexFile);
  const auto where = hf::read_index(read_file_bytes(index_path, "a shard index"), index_path);
  std::map<std::string, std::vector<std::string>> by_file;
  for (const auto& [tensor, file] : where) by_file[file].push_back(tensor);
  StoredWeights stored;
  for (const auto& [file, listed] : by_file) {
    const auto& layout = add_weights_file(stored, path_in(dir, file));
    std::set<std::string> held;
    for (const auto& e : layout.entries) held.insert(e.name);
    for (const auto& tensor : listed)
      if (!held.count(tensor))
        throw DataError(fmt::format("'{}' lists tensor '{}' in {}, which does not hold it",
                                    index_path, tensor, file));
    for (const auto& tensor : held) {
      const auto it = where.find(tensor);
      if (it == where.end() || it->second != file)
        throw DataError(fmt::format("'{}' holds tensor '{}', which {} does not list there",
                                    path_in(dir, file), tensor, kIndexFile));
    }
  }
  return stored;
}

StoredWeights read_stored_weights(const std::string& dir) {
  if (fs::exists(path_in(dir, kIndexFile))) return read_shard_layouts(dir);
  StoredWeights stored;
  add_weights_file(stored, path_in(dir, kWeightsFile));
  return stored;
}

/// config.json and where the weights are, mapped to stars' parameters and checked against
/// it.
struct HfModel {
  hf::ModelDescription description;
  StoredWeights stored;
  hf::WeightPlan plan;  // by stars name
};

HfModel read_hf_model(const std::string& dir) {
  HfModel out;
  out.stored = read_stored_weights(dir);
  const std::string config_path = path_in(dir, kConfigFile);
  out.description = hf::read_config(read_file_bytes(config_path, "the model's config.json"),
                                    config_path, out.stored.where.count(kGateTensor) > 0);
  out.plan = hf::plan_stars_weights(out.stored.shapes(), out.description.config.model,
                                    out.description.vocab_size, dir);
  return out;
}

/// Reads the weights of `hf` into `model`, every parameter named and shaped (checked before
/// any is read). One tensor at a time, straight from its file into the parameter's rows: the
/// model's weights are held once, not also as a second copy read whole first.
void copy_into(const HfModel& hf, LoopLM& model, const std::string& origin) {
  torch::NoGradGuard no_grad;
  const auto params = model->named_parameters();
  for (const auto& p : params) {
    const auto it = hf.plan.find(p.key());
    if (it == hf.plan.end() || p.value().sizes() != c10::IntArrayRef(it->second.shape))
      throw_weight_mismatch(origin,
                            "its parameter '" + p.key() + "' is missing or shaped otherwise",
                            "--init of a Hugging Face model takes model.* from its config.json");
  }
  if (params.size() != hf.plan.size())
    throw_weight_mismatch(origin, "it holds parameters this model does not have",
                          "--init of a Hugging Face model takes model.* from its config.json");
  std::map<std::string, std::ifstream> open;
  for (const auto& p : params)
    for (const auto& part : hf.plan.at(p.key()).parts) {
      const auto& where = hf.stored.where.at(part.hf_name);
      const auto& layout = hf.stored.files.at(where.path);
      auto& in = open.try_emplace(where.path, where.path, std::ios::binary).first->second;
      p.value()
          .narrow(0, part.row, part.rows)
          .copy_(read_float_entry(in, layout, layout.entries[where.entry], where.path));
    }
}

std::string torch_dtype_name(safetensors::DType dtype) {
  switch (dtype) {
    case safetensors::DType::F32:
      return "float32";
    case safetensors::DType::BF16:
      return "bfloat16";
    case safetensors::DType::F16:
      return "float16";
    default:
      throw std::invalid_argument(std::string("stars-export writes F32, BF16 or F16, not ") +
                                  safetensors::dtype_name(dtype));
  }
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text);
  fs::remove(checksum_path(path));  // the layout has no checksums; others' readers expect none
}

/// The tensors in shards of at most `shard_bytes` (in order; a larger tensor is a shard of
/// its own), one file when shard_bytes is 0 or the whole fits.
std::vector<std::vector<safetensors::Blob>> shards(std::vector<safetensors::Blob> blobs,
                                                   std::uint64_t shard_bytes) {
  std::vector<std::vector<safetensors::Blob>> out(1);
  std::uint64_t size = 0;
  for (auto& blob : blobs) {
    if (shard_bytes > 0 && !out.back().empty() && size + blob.data.size() > shard_bytes) {
      out.emplace_back();
      size = 0;
    }
    size += blob.data.size();
    out.back().push_back(std::move(blob));
  }
  return out;
}

}  // namespace

bool is_hf_model_dir(const std::string& path) {
  if (!fs::is_directory(path) || fs::exists(path_in(path, "model.pt"))) return false;
  std::ifstream in(path_in(path, kConfigFile));
  if (!in) return false;
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("hidden_size");
}

ModelConfig hf_model_config(const std::string& dir) {
  return read_hf_model(dir).description.config.model;
}

LoadedModel load_hf_model(const std::string& dir, torch::Device device) {
  HfModel hf = read_hf_model(dir);
  LoadedModel out;
  out.path = dir;
  out.config = hf.description.config;
  // A pretrained model without a "stars" config (Ouro's own directory) is a chat model when
  // it holds a tokenizer.
  const bool tokenizer_here = !find_model_tokenizer(dir).empty();
  if (!hf.description.has_stars && !tokenizer_here)
    throw DataError(fmt::format(
        "'{}': its config.json has no \"stars\" config and the directory no tokenizer, so "
        "the task and tokenizer of the model are unknown; add the model's tokenizer.json, "
        "or train from it with stars-train --config CONFIG --init {}",
        path_in(dir, kConfigFile), dir));
  if (!hf.description.has_stars) out.config.data.task = "chat";
  const bool chat = is_chat_task(out.config.data);
  // A chat model's vocabulary may run past its tokenizer's ids (padded for speed).
  const std::int64_t vocab = chat ? chat_model_vocab_size(dir, out.config.data)
                                  : tokenizer_for(out.config.data).vocab_size();
  if (chat ? vocab > hf.description.vocab_size : vocab != hf.description.vocab_size)
    throw DataError(fmt::format("'{}': vocab_size = {}, but the model's tokenizer has {} tokens",
                                path_in(dir, kConfigFile), hf.description.vocab_size, vocab));
  if (chat && tokenizer_here) out.config.data.tokenizer = find_model_tokenizer(dir);
  out.model = LoopLM(out.config.model, hf.description.vocab_size);
  copy_into(hf, out.model, dir);
  out.model->to(device);
  return out;
}

void load_hf_weights(const std::string& dir, LoopLM& model) {
  const HfModel hf = read_hf_model(dir);
  if (hf.description.vocab_size != model->vocab_size())
    throw_weight_mismatch(dir,
                          fmt::format("its vocab_size is {} and this run's tokenizer has {} "
                                      "tokens",
                                      hf.description.vocab_size, model->vocab_size()),
                          "the data settings must name the model's tokenizer");
  copy_into(hf, model, dir);
}

void export_hf_model(LoopLM& model, const Config& cfg, const std::string& dir,
                     const HfExportOptions& options) {
  if (const std::string why = hf::layout_mismatch(cfg.model); !why.empty())
    throw ConfigError("cannot export to the Hugging Face layout: " + why);
  const std::string dtype = torch_dtype_name(options.dtype);
  fs::create_directories(dir);
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : model->named_parameters()) params[p.key()] = p.value();
  std::vector<safetensors::Blob> blobs;
  for (const auto& [name, tensor] : hf::to_hf(params, cfg.model))
    blobs.push_back(to_blob(name, tensor, options.dtype));
  std::uint64_t total = 0;
  for (const auto& blob : blobs) total += blob.data.size();
  const auto parts = shards(std::move(blobs), options.shard_bytes);
  const std::map<std::string, std::string> metadata{{"format", "pt"}};
  if (parts.size() == 1) {
    write_text(path_in(dir, kWeightsFile), safetensors::serialize(parts.front(), metadata));
    fs::remove(path_in(dir, kIndexFile));
  } else {
    nlohmann::json index{{"metadata", {{"total_size", total}}},
                         {"weight_map", nlohmann::json::object()}};
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string file =
          fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, parts.size());
      for (const auto& blob : parts[i]) index["weight_map"][blob.name] = file;
      write_text(path_in(dir, file), safetensors::serialize(parts[i], metadata));
    }
    write_text(path_in(dir, kIndexFile), index.dump(2) + "\n");
    fs::remove(path_in(dir, kWeightsFile));
  }
  write_text(path_in(dir, kConfigFile),
             hf::write_config(cfg, model->vocab_size(), options.loops, dtype).dump(2) + "\n");
}

}  // namespace stars
