#pragma once
// Stopping a run on SIGINT or SIGTERM: finish the step, write a checkpoint, exit.

namespace stars {

/// Takes SIGINT/SIGTERM from now on: the first sets the returned flag (finish the step,
/// checkpoint, exit), a second one exits at once with 128 + signal. Call it before any
/// thread starts: the signals are blocked in the calling thread (and so in every thread it
/// starts later) and received by a dedicated thread, never inside running code.
const volatile int* install_stop_handlers();

/// Whether a stop signal has been received.
bool stop_requested();

}  // namespace stars
