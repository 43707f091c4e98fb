#include "stars/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "archive_check.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/chat_corpus.hpp"
#include "stars/data/text.hpp"
#include "stars/io/file_kind.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "stars/train/run_dir.hpp"
#include "stars/train/safetensors_model.hpp"
#include "stars/util/fault.hpp"
#include "weight_mismatch.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "stars-checkpoint-v1";

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// Writes `text` to `path` via a temporary file and an atomic rename.
void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  fsync_path(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

/// Writes bytes produced by `write` to `path` via a temporary file and an atomic rename,
/// with its checksum beside it (PATH.sum, written first, so a file never appears without
/// its checksum once it has one).
template <typename Write>
void write_atomically(const std::string& path, Write write) {
  const std::string tmp = path + ".tmp";
  write(tmp);
  fsync_path(tmp);
  write_text_atomically(checksum_path(path), file_checksum(tmp) + "\n");
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  fsync_path(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string());
}

[[noreturn]] void bad_checkpoint(const std::string& path, const std::string& why) {
  throw DataError("cannot read checkpoint '" + path + "': " + why +
                  "; expected a file written by stars-train (RUN/model.pt or "
                  "RUN/checkpoints/step-*.pt) or a run directory");
}

torch::serialize::InputArchive open_archive(const std::string& path, torch::Device device) {
  if (!fs::exists(path)) bad_checkpoint(path, "no such file");
  if (fs::is_directory(path)) bad_checkpoint(path, "it is a directory without checkpoints");
  verify_checksum(path);
  if (const FileKind kind = sniff_file_kind(path); kind != FileKind::zip)
    bad_checkpoint(path, "it is " + describe(kind) + ", not a checkpoint" + kind_hint(kind));
  if (const std::string problem = zip_archive_problem(path); !problem.empty())
    bad_checkpoint(path, "a damaged archive: " + problem);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const std::exception& e) {  // c10::Error, or the TorchScript parser's own errors
    bad_checkpoint(path, "not a readable archive (truncated or another file type)");
  }
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
    bad_checkpoint(path, std::string("missing the '") + kFormat + "' marker");
  return archive;
}

Config read_config(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue text;
  if (!archive.try_read("config", text) || !text.isString())
    bad_checkpoint(path, "no config inside");
  try {
    return config_from_json(nlohmann::json::parse(text.toStringRef()));
  } catch (const std::exception& e) {
    bad_checkpoint(path,
                   std::string("its config is not valid for this version of stars: ") + e.what());
  }
}

std::int64_t read_step(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue step;
  if (!archive.try_read("step", step) || !step.isInt() || step.toInt() < 0)
    bad_checkpoint(path, "no step count inside");
  return step.toInt();
}

torch::serialize::InputArchive read_model_archive(torch::serialize::InputArchive& archive,
                                                  const std::string& path) {
  torch::serialize::InputArchive model_archive;
  if (!archive.try_read("model", model_archive)) bad_checkpoint(path, "no weights inside");
  return model_archive;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Loads the archive's weights into `model`. Module::load replaces tensors whatever their
/// shape and type, so each is checked against the model's own; `hint` says what to do.
void load_weights(torch::serialize::InputArchive& archive, LoopLM& model, const std::string& path,
                  const std::string& hint) {
  // By value: loading changes the parameters' tensors in place.
  std::map<std::string, std::pair<std::vector<std::int64_t>, c10::ScalarType>> want;
  for (const auto& p : model->named_parameters())
    want[p.key()] = {p.value().sizes().vec(), p.value().scalar_type()};
  torch::serialize::InputArchive model_archive = read_model_archive(archive, path);
  try {
    model->load(model_archive);
  } catch (const std::exception& e) {
    throw_weight_mismatch(path, "its tensor names are not this model's", hint);
  }
  for (const auto& p : model->named_parameters()) {
    const auto& [shape, type] = want[p.key()];
    if (p.value().sizes().vec() != shape || p.value().scalar_type() != type)
      throw_weight_mismatch(path,
                            "tensor '" + p.key() + "' is " + shape_text(p.value().sizes().vec()) +
                                " " + std::string(c10::toString(p.value().scalar_type())) +
                                " there and " + shape_text(shape) + " " +
                                std::string(c10::toString(type)) + " in this model",
                            hint);
  }
}

}  // namespace

std::string checksum_path(const std::string& path) {
  return path + ".sum";
}

std::string file_checksum(const std::string& path) {
  // 64-bit FNV-1a: catches flipped or changed bytes; not a defence against tampering.
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path + "' to check its checksum");
  std::uint64_t hash = 14695981039346656037ull;
  std::vector<char> buf(1 << 16);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash ^= static_cast<unsigned char>(buf[static_cast<std::size_t>(i)]);
      hash *= 1099511628211ull;
    }
  }
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return text;
}

IntactCheckpoint latest_intact_checkpoint(const std::string& run_dir) {
  IntactCheckpoint out;
  const std::vector<std::string> all = step_checkpoint_paths(run_dir);
  if (all.empty()) latest_step_checkpoint(run_dir);  // throws the "no checkpoints" error
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      verify_checksum(*it);
      out.path = *it;
      return out;
    } catch (const DataError& e) {
      out.corrupted.push_back(e.what());
    }
  }
  throw DataError("cannot resume '" + run_dir + "': every checkpoint failed its checksum (" +
                  out.corrupted.front() + ")");
}

void verify_checksum(const std::string& path) {
  std::ifstream in(checksum_path(path));
  if (!in) return;  // written before checksums existed (or by hand): nothing to compare
  std::string stored;
  in >> stored;
  const std::string actual = file_checksum(path);
  if (stored != actual)
    throw DataError("checkpoint '" + path + "' is corrupted: its bytes changed after it was " +
                    "written (checksum " + actual + ", stored " + stored + " in " +
                    checksum_path(path) + "); use an earlier checkpoint or retrain");
}

void save_checkpoint(const std::string& path, LoopLM& model, const torch::optim::AdamW* optimizer,
                     std::int64_t step, const Config& cfg, double train_seconds) {
  write_atomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string(kFormat)));
    archive.write("config", c10::IValue(nlohmann::json(cfg).dump()));
    archive.write("step", c10::IValue(step));
    archive.write("train_seconds", c10::IValue(train_seconds));
    torch::serialize::OutputArchive model_archive;
    model->save(model_archive);
    archive.write("model", model_archive);
    if (optimizer) {
      torch::serialize::OutputArchive opt_archive;
      optimizer->save(opt_archive);
      archive.write("optimizer", opt_archive);
    }
    archive.save_to(tmp);
    fault::checkpoint_written(tmp, step);
  });
}

std::string resolve_checkpoint(const std::string& path_or_dir) {
  if (!fs::is_directory(path_or_dir)) return path_or_dir;
  const fs::path dir(path_or_dir);
  if (fs::exists(dir / "model.pt")) return (dir / "model.pt").string();
  if (fs::exists(dir / "model.safetensors")) return (dir / "model.safetensors").string();
  std::string newest;
  if (fs::is_directory(dir / "checkpoints"))
    for (const auto& entry : fs::directory_iterator(dir / "checkpoints")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("step-", 0) == 0 && entry.path().extension() == ".pt" &&
          entry.path().string() > newest)
        newest = entry.path().string();
    }
  if (newest.empty())
    bad_checkpoint(path_or_dir,
                   "the directory holds no model.pt, no model.safetensors and no "
                   "checkpoints/step-*.pt");
  return newest;
}

LoadedModel load_model(const std::string& path_or_dir, torch::Device device) {
  if (is_hf_model_dir(path_or_dir)) return load_hf_model(path_or_dir, device);
  LoadedModel out;
  out.path = resolve_checkpoint(path_or_dir);
  if (is_safetensors_path(out.path)) return load_model_safetensors(out.path, device);
  auto archive = open_archive(out.path, device);
  out.config = read_config(archive, out.path);
  out.step = read_step(archive, out.path);
  const std::int64_t vocab = is_chat_task(out.config.data)
                                 ? chat_model_vocab_size(out.path, out.config.data)
                                 : tokenizer_for(out.config.data).vocab_size();
  // A model is built from the config before its weights are read: a config describing more
  // weights than the file can hold is refused first, so a hostile file cannot make the
  // loader allocate without bound.
  const double weight_bytes = 4 * parameter_count(out.config.model, vocab);
  if (weight_bytes > static_cast<double>(fs::file_size(out.path)))
    bad_checkpoint(out.path, fmt::format("its config describes {:.0f} bytes of weights, more "
                                         "than the file holds",
                                         weight_bytes));
  out.model = LoopLM(out.config.model, vocab);
  load_weights(archive, out.model, out.path, "the weights do not match the config inside");
  out.model->to(device);
  return out;
}

std::int64_t load_training_state(const std::string& path, LoopLM& model,
                                 torch::optim::AdamW* optimizer, torch::Device device,
                                 double* train_seconds) {
  auto archive = open_archive(path, device);
  load_weights(archive, model, path, kSameModelHint);
  torch::serialize::InputArchive opt_archive;
  if (optimizer && archive.try_read("optimizer", opt_archive)) {
    try {
      optimizer->load(opt_archive);
    } catch (const std::exception& e) {
      bad_checkpoint(path, "its optimiser state does not fit this model");
    }
  }
  c10::IValue seconds;
  if (train_seconds)
    *train_seconds =
        archive.try_read("train_seconds", seconds) && seconds.isDouble() ? seconds.toDouble() : 0.0;
  return read_step(archive, path);
}

void write_bytes_atomically(const std::string& path, const std::string& bytes) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  });
}

void export_state_dict(LoopLM& model, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& item : model->named_parameters())
    dict.insert(item.key(), item.value().detach().cpu());
  for (const auto& item : model->named_buffers())
    dict.insert(item.key(), item.value().detach().cpu());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_bytes_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace stars
