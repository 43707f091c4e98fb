#include "stars/kernels/composed_ops.hpp"

namespace stars {
namespace {
thread_local bool g_composed = false;
thread_local bool g_twice = false;
}  // namespace

ComposedOpsGuard::ComposedOpsGuard() : previous_(g_composed) {
  g_composed = true;
}
ComposedOpsGuard::~ComposedOpsGuard() {
  g_composed = previous_;
}
bool ComposedOpsGuard::active() {
  return g_composed;
}

TwiceDifferentiatedGuard::TwiceDifferentiatedGuard() : previous_(g_twice) {
  g_twice = true;
}
TwiceDifferentiatedGuard::~TwiceDifferentiatedGuard() {
  g_twice = previous_;
}
bool TwiceDifferentiatedGuard::active() {
  return g_twice;
}

}  // namespace stars
