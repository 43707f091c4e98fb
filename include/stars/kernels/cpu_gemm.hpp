#pragma once
// Which matrix multiply the model's linear layers run on the CPU.
//
// LibTorch multiplies through the system BLAS (OpenBLAS on Debian), which picks its
// kernels by CPU model; where OPENBLAS_CORETYPE pins them to AVX2 (as on CPUs whose AVX-512
// an older OpenBLAS mishandles), its sgemm runs at half the rate the CPU allows. oneDNN,
// which Debian's LibTorch itself links, JIT-compiles its sgemm for the widest instruction
// set the CPU reports: on the arith.json shapes it measured 2.0x OpenBLAS's rate
// (docs/performance.md).

namespace stars {

enum class CpuGemm { onednn, blas };

/// Whether this build of stars can multiply with oneDNN.
bool onednn_gemm_available();

/// The GEMM that CPU float32 linear layers use: oneDNN's where available, unless the
/// environment sets STARS_CPU_GEMM=blas or set_cpu_gemm chose otherwise. Other devices and
/// dtypes always use LibTorch's matmul.
CpuGemm cpu_gemm();

/// The GEMM that STARS_CPU_GEMM names (blas or onednn; unset or empty: oneDNN where this
/// build has it). Throws std::invalid_argument, naming the value, for anything else.
CpuGemm cpu_gemm_from_environment();

/// Chooses the GEMM for the whole process (set it before training starts). Throws
/// std::invalid_argument for onednn where this build has no oneDNN.
void set_cpu_gemm(CpuGemm gemm);

/// "onednn" or "blas".
const char* cpu_gemm_name(CpuGemm gemm);

}  // namespace stars
