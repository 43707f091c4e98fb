#pragma once
// How much memory a LoopLM needs to train or decode, estimated from its config before any
// of it is allocated, so that a config that cannot fit is refused with a word instead of
// being killed by the kernel's out-of-memory killer. The activation model counts the
// tensors one layer application keeps (about 12 of width d_model, 2 of width d_ff and the
// attention probabilities per token); docs/reliability.md compares it with measured peaks.
#include <cstdint>
#include <string>

#include <c10/core/Device.h>

#include "stars/config/config.hpp"

namespace stars {

/// The largest loop count `loops` can draw (n for fixed, max for the others).
int max_loops(const LoopsConfig& loops);

/// Bytes one training step needs at most: activations of every layer application that
/// builds a graph (all loops, or the last backprop_depth), the Jacobian penalty's extra
/// graph, logits (of `readouts` states: the gate's expected loss reads out every loop and
/// keeps each one's logits for the backward pass), and weights with their gradients and
/// AdamW moments. With `recompute` (train.recompute_loops) the loops keep one state each
/// and one loop's activations exist at a time.
double training_step_bytes(const ModelConfig& model, const LoopsConfig& loops, bool penalty,
                           std::int64_t batch, std::int64_t seq_len, std::int64_t vocab,
                           int readouts = 1, bool recompute = false);

/// Bytes greedy decoding of `batch` sequences of up to `seq_len` tokens at `depth` loops
/// needs: the key/value cache of every loop (with `cache`) and the states kept for
/// diagnostics (with `keep_states`), besides one step's working tensors, which hold
/// `logits_tensors` (B, T, vocab) tensors at once (token_exit.hpp: logits_kept).
double decoding_bytes(const ModelConfig& model, std::int64_t batch, std::int64_t seq_len, int depth,
                      bool cache, bool keep_states, std::int64_t vocab, int logits_tensors = 1);

/// Memory this process may still use where `device`'s tensors live: STARS_MEMORY_LIMIT
/// (bytes; for tests and for sharing a machine) when set; else on a CUDA device its free
/// memory (cudaMemGetInfo), on the CPU the kernel's MemAvailable (/proc/meminfo), the host's
/// also where a CUDA device cannot be queried; +inf when none is known.
double available_memory_bytes(const c10::Device& device = c10::Device(c10::kCPU));

/// "memory" on the CPU, "memory on cuda:1" on a CUDA device: where available_memory_bytes
/// looked, for messages.
std::string memory_place(const c10::Device& device);

/// Throws ConfigError (exit 2) when a training step of any phase of `cfg` needs more than
/// available_memory_bytes(device), naming the phase, both numbers and the keys that lower
/// it. Under data parallelism over `ranks` processes each holds its share of train.batch.
void check_training_memory(const Config& cfg, std::int64_t seq_len, std::int64_t vocab,
                           int ranks = 1, const c10::Device& device = c10::Device(c10::kCPU));

/// Throws ConfigError (exit 2) when decoding at `depth` on `device` needs more than
/// available_memory_bytes(device), naming both numbers and the flags that lower it.
void check_decoding_memory(const ModelConfig& model, std::int64_t batch, std::int64_t seq_len,
                           int depth, bool cache, bool keep_states, std::int64_t vocab,
                           int logits_tensors = 1,
                           const c10::Device& device = c10::Device(c10::kCPU));

/// "1.5 GiB", "320.0 MiB".
std::string format_bytes(double bytes);

}  // namespace stars
