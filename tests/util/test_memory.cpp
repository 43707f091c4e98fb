#include <gtest/gtest.h>

#include "stars/util/memory.hpp"

namespace stars {
namespace {

TEST(Memory, GlibcTakesTheAllocatorSettings) {
#if !defined(__GLIBC__) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "glibc's allocator is not in use";
#else
  // mallopt rejects an mmap threshold above glibc's limit: this fails if one is chosen.
  EXPECT_TRUE(retain_freed_memory());
#endif
}

}  // namespace
}  // namespace stars
