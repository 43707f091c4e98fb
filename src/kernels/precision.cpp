#include "stars/kernels/precision.hpp"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include <ATen/Context.h>

#include "kernel_isa.hpp"

namespace stars {
namespace {

std::atomic<Precision>& precision_state() {
  static std::atomic<Precision> state{Precision::fp32};
  return state;
}

}  // namespace

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::tf32:
      return "tf32";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

Precision parse_precision(const char* name) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    if (std::strcmp(name, precision_name(p)) == 0) return p;
  throw std::invalid_argument(std::string("precision '") + name +
                              "' is not one of fp32, tf32, bf16");
}

bool cpu_has_native_bf16() {
  return kernels::native_bf16_allowed();
}

const char* precision_unavailable_reason(Precision p, bool cuda) {
  if (p == Precision::tf32 && !cuda)
    return "tf32 is a mode of CUDA's matrix products and has no meaning on the CPU; use fp32, "
           "or bf16 on a CPU with native bf16";
  if (p == Precision::bf16 && !cuda && !cpu_has_native_bf16())
    return "this CPU has no native bf16 instructions (avx512_bf16 or AMX-BF16), so bf16 "
           "products would be emulated and run slower than fp32; use fp32";
  return "";
}

Precision matmul_precision() {
  return precision_state().load(std::memory_order_relaxed);
}

Precision set_matmul_precision(Precision p) {
  // TF32 is CUDA-wide state in LibTorch: on for tf32 only, so fp32 means float32 there.
  at::globalContext().setAllowTF32CuBLAS(p == Precision::tf32);
  at::globalContext().setAllowTF32CuDNN(p == Precision::tf32);
  return precision_state().exchange(p, std::memory_order_relaxed);
}

}  // namespace stars
