#pragma once
// Fault points: a testing aid that puts a fault at an exact place in a run, so that a test
// of what happens after a signal, a crash or a stalled rank does not race the clock.
// Read once, from the environment variable STARS_FAULT, at the first query:
//
//   signal@step:N        raise SIGINT in this process after step N (the real stop path)
//   stall@step:N         stop making progress after step N (sleep until killed)
//   exit@step:N          end the process at once (_exit(3)) after step N, as a crash would
//   exit@checkpoint:N    crash half way through writing the checkpoint of step N: the
//                        temporary file is left truncated and the process ends (_exit(3))
//   fail@checkpoint:N    the write of the checkpoint of step N fails as on a full disk
//                        (std::system_error with ENOSPC, after half the file is written)
//
// A suffix `@rank:R` limits the fault to data-parallel rank R. Compiled in always; with
// STARS_FAULT unset each query is a comparison. Not for production use.
#include <cstdint>
#include <string>

namespace stars::fault {

enum class Kind { none, signal, stall, exit, fail };
enum class Where { step, checkpoint };

struct Plan {
  Kind kind = Kind::none;
  Where where = Where::step;
  std::int64_t step = -1;
  int rank = -1;  // -1: every rank
};

/// Parses a STARS_FAULT value; throws ConfigError naming the value and the valid forms.
Plan parse(const std::string& spec);
/// The plan from STARS_FAULT (Kind::none when unset), parsed on first use.
const Plan& plan();
/// Called after each completed training step.
void after_step(std::int64_t step, int rank);
/// Called once the checkpoint of `step` is written to `tmp`, before it is renamed into place
/// (checkpoints are written by rank 0 alone).
void checkpoint_written(const std::string& tmp, std::int64_t step);

}  // namespace stars::fault
