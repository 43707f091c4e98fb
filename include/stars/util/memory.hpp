#pragma once
// Process-wide memory settings for the command-line tools.

namespace stars {

/// Keeps freed tensor memory in the process for reuse. glibc hands blocks above its mmap
/// threshold back to the kernel on free, so each training step maps fresh pages for its
/// activations and pays a page fault per 4 KiB on first touch (measured: 1-5% of a step at
/// the arith.json size; docs/performance.md). Raises the mmap threshold to glibc's maximum
/// (32 MiB) and the trim threshold to 1 GiB; a no-op with other C libraries. Returns whether
/// the settings were taken.
bool retain_freed_memory();

}  // namespace stars
