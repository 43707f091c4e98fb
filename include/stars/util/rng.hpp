#pragma once
// A small, portable counter-based generator (SplitMix64). Every random draw in stars
// comes from an Rng seeded from (seed, step, stream), so a resumed run repeats its draws
// exactly and the sequence does not depend on the standard library's distributions.
#include <cstdint>

namespace stars {

/// Hash of (seed, step, stream) into a 64-bit seed; distinct inputs give unrelated streams.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t step, std::uint64_t stream = 0);

/// Stream identifiers, so that two components seeded from the same step never share draws.
enum class RngStream : std::uint64_t {
  loops = 1,
  data = 2,
  torch = 3,
  eval = 4,
  phase_check = 5,
  difficulty = 6
};

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  Rng(std::uint64_t seed, std::uint64_t step, RngStream stream)
      : state_(mix_seed(seed, step, static_cast<std::uint64_t>(stream))) {}

  std::uint64_t next();
  /// Uniform in [0, 1).
  double uniform();
  /// Uniform integer in [lo, hi], both inclusive.
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi);
  /// Standard normal (Box-Muller).
  double normal();
  /// Poisson(lambda) by inversion; fine for the small means used for loop counts.
  std::int64_t poisson(double lambda);

 private:
  std::uint64_t state_;
};

}  // namespace stars
