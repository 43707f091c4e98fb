#pragma once
// Checkpoint averaging: the element-wise mean of the weights of a run's last checkpoints
// (as fairseq's average_checkpoints.py does), a model that often holds up better than the
// last one alone once the learning rate has decayed. stars-average is its command.
#include <string>
#include <vector>

#include "stars/train/checkpoint.hpp"

namespace stars {

/// The newest `count` checkpoints of run directory `run_dir`, one per step, newest first:
/// its final model.pt, then checkpoints/step-*.pt (a step checkpoint of the final model's
/// step is the same weights and is skipped). Throws ConfigError naming the run and what it
/// holds when it has fewer than `count` steps saved.
std::vector<std::string> newest_checkpoints(const std::string& run_dir, int count);

/// The mean of the models in `paths` (checkpoint files or run directories): every parameter
/// and floating-point buffer, folded in one model at a time as a running mean computed in
/// float64 and stored in its own dtype, so memory peaks at two models whatever the count;
/// the config and step are the first's. Throws ConfigError naming the file whose architecture
/// (config's model section, tensor names or shapes) differs from the first's, or when `paths` is
/// empty.
LoadedModel average_checkpoints(const std::vector<std::string>& paths);

/// The mean of a run's newest `count` checkpoints (as newest_checkpoints chooses them) and
/// the files it averaged. Each file is read once: newest_checkpoints followed by
/// average_checkpoints reads the final model.pt twice, once for its step.
struct AveragedCheckpoints {
  LoadedModel mean;
  std::vector<std::string> paths;
};
AveragedCheckpoints average_newest_checkpoints(const std::string& run_dir, int count);

}  // namespace stars
