#pragma once
// Run directory layout:
//   RUN/config.json               resolved config
//   RUN/metrics.jsonl             one JSON object per logged step or evaluation
//   RUN/checkpoints/step-N.pt     periodic checkpoints (the last K are kept), each with
//                                 its checksum beside it (step-N.pt.sum)
//   RUN/model.pt                  final model (checkpoint format, no optimiser)
//   RUN/state_dict.pt             final weights as a dict for Python's torch.load
//   RUN/model.safetensors         final weights as safetensors, the config in its metadata
#include <cstdint>
#include <string>
#include <vector>

namespace stars {

/// Creates RUN and RUN/checkpoints. Throws ConfigError if RUN already holds a run (use
/// --resume) or cannot be written.
void create_run_dir(const std::string& dir);

/// RUN/checkpoints/step-00001000.pt for step 1000.
std::string step_checkpoint_path(const std::string& dir, std::int64_t step);

/// RUN/checkpoints/step-*.pt, oldest first.
std::vector<std::string> step_checkpoint_paths(const std::string& dir);

/// Newest RUN/checkpoints/step-*.pt; throws ConfigError if there is none.
std::string latest_step_checkpoint(const std::string& dir);

/// Deletes all but the newest `keep` step checkpoints (and stray temporary files).
void prune_checkpoints(const std::string& dir, int keep);

}  // namespace stars
