#include "stars/util/memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace stars {

bool retain_freed_memory() {
#if defined(__GLIBC__)
  constexpr int kMmapThreshold = 32 << 20;  // glibc's upper limit on 64-bit systems
  constexpr int kTrimThreshold = 1 << 30;
  constexpr int kTopPad = 64 << 20;  // grow the heap in steps that fit a step's activations
  return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 &&
         mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 && mallopt(M_TOP_PAD, kTopPad) == 1;
#else
  return false;
#endif
}

}  // namespace stars
