#include "stars/util/rng.hpp"

#include <cmath>

namespace stars {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t step, std::uint64_t stream) {
  std::uint64_t x = seed;
  std::uint64_t h = splitmix64(x);
  x = h ^ step;
  h = splitmix64(x);
  x = h ^ (stream * 0xD6E8FEB86659FD93ULL);
  return splitmix64(x);
}

std::uint64_t Rng::next() {
  return splitmix64(state_);
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

std::int64_t Rng::uniform_int(std::int64_t lo, std::int64_t hi) {
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<std::int64_t>(next() % span);  // bias < 2^-40 for our spans
}

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::int64_t Rng::poisson(double lambda) {
  // Inversion by sequential search: O(lambda) work, exact.
  double p = std::exp(-lambda), cdf = p, u = uniform();
  std::int64_t k = 0;
  while (u > cdf && k < 100000) {
    ++k;
    p *= lambda / static_cast<double>(k);
    cdf += p;
  }
  return k;
}

}  // namespace stars
