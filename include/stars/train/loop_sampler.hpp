#pragma once
// Loop-count samplers, looked up by name. A draw depends only on (seed, step), so a
// resumed run draws the same depths as an uninterrupted one.
#include <cstdint>

#include "stars/config/config.hpp"

namespace stars {

/// Loop count for training step `step`:
///   fixed      n
///   uniform    uniform integer in [min, max]
///   poisson    Poisson(lambda), clamped to [min, max]
///   lognormal  round(exp(mu + sigma z)), clamped to [min, max]
int sample_loops(const LoopsConfig& cfg, std::uint64_t seed, std::uint64_t step);

/// Expected loop count of the sampler, by exact summation for the discrete ones and
/// numerically for lognormal (used to report cost and by tests).
double expected_loops(const LoopsConfig& cfg);

}  // namespace stars
