#pragma once
// Loop-count samplers, looked up by name. A draw depends only on (seed, step), so a
// resumed run draws the same depths as an uninterrupted one.
#include <cstdint>

#include "stars/config/config.hpp"
#include "stars/data/task.hpp"

namespace stars {

/// Loop count for training step `step`:
///   fixed      n
///   uniform    uniform integer in [min, max]
///   poisson    Poisson(lambda), clamped to [min, max]
///   lognormal  round(exp(mu + sigma z)), clamped to [min, max]
int sample_loops(const LoopsConfig& cfg, std::uint64_t seed, std::uint64_t step);

/// The difficulties training step `step` draws its problems from. Loop counts tied to
/// difficulty (cfg.per_difficulty > 0) need a batch of one difficulty: d is drawn uniformly
/// from `phase_range` on its own stream (seed, step), so the loop draw stays as it was;
/// otherwise the whole `phase_range`.
DifficultyRange step_difficulty(const LoopsConfig& cfg, DifficultyRange phase_range,
                                std::uint64_t seed, std::uint64_t step);

/// Loop count for step `step` whose batch has difficulty `batch.hi`: the sampler's draw,
/// raised to ceil(per_difficulty · d) when loop counts are tied to difficulty, so that a
/// problem of d steps gets the loops its steps need (the raise ignores loops.max).
int step_loops(const LoopsConfig& cfg, DifficultyRange batch, std::uint64_t seed,
               std::uint64_t step);

/// Expected loop count of the sampler, by exact summation for the discrete ones and
/// numerically for lognormal (used to report cost and by tests).
double expected_loops(const LoopsConfig& cfg);

}  // namespace stars
