#pragma once
// Checkpoints: model weights, optimiser state, step and the resolved config in one file,
// written atomically (temporary file, fsync, rename), with a checksum beside it (FILE.sum)
// that every load verifies. A checkpoint alone rebuilds the model.
#include <string>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "stars/config/config.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

/// Writes `path` atomically: a crash leaves either the old file or the new one.
/// train_seconds: the run's training time up to `step`, resumed parts included.
void save_checkpoint(const std::string& path, LoopLM& model, const torch::optim::AdamW* optimizer,
                     std::int64_t step, const Config& cfg, double train_seconds = 0);

/// Resolves a run directory to its newest checkpoint (final model first), or returns a file path.
std::string resolve_checkpoint(const std::string& path_or_dir);

struct LoadedModel {
  Config config;
  LoopLM model{nullptr};
  std::int64_t step = 0;
  std::string path;  // the checkpoint file read
};

/// Rebuilds the model from a checkpoint file or run directory. Throws DataError with the
/// path and a hint when the file is missing, truncated or not a stars checkpoint.
LoadedModel load_model(const std::string& path_or_dir, torch::Device device);

/// Restores weights and optimiser state into existing objects; returns the step. With
/// train_seconds, also the training time the checkpoint records (0 for a checkpoint written
/// before it was recorded).
std::int64_t load_training_state(const std::string& path, LoopLM& model,
                                 torch::optim::AdamW* optimizer, torch::Device device,
                                 double* train_seconds = nullptr);

/// FILE.sum: where the checksum of FILE is kept.
std::string checksum_path(const std::string& path);
/// The checksum of a file's bytes as text ("fnv1a64:<16 hex digits>").
std::string file_checksum(const std::string& path);
/// Throws DataError naming the file when its bytes no longer match FILE.sum; a file without
/// FILE.sum (written before checksums, or by hand) passes.
void verify_checksum(const std::string& path);

/// The newest step checkpoint of a run whose checksum holds, and the newer ones that failed
/// it (for the caller to warn about). Throws ConfigError when the run has no checkpoint and
/// DataError when none is intact.
struct IntactCheckpoint {
  std::string path;
  std::vector<std::string> corrupted;  // "FILE: why", newest first
};
IntactCheckpoint latest_intact_checkpoint(const std::string& run_dir);

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename) with FILE.sum beside.
void write_bytes_atomically(const std::string& path, const std::string& bytes);

/// Writes the weights as a name -> tensor dict that Python's torch.load reads.
void export_state_dict(LoopLM& model, const std::string& path);

}  // namespace stars
