#include "stars/kernels/composed_ops.hpp"

namespace stars {
namespace {
thread_local bool g_composed = false;
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

}  // namespace stars
