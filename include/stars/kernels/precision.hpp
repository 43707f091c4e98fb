#pragma once
// The precision of the model's matrix products (its linear layers, the output head
// included), chosen per run by train.precision.
//
// fp32 multiplies in float32. tf32 lets CUDA's matrix products round their inputs to TF32
// (10-bit mantissa; float32 range and accumulation); it has no meaning on a CPU. bf16
// rounds both operands of every linear layer's product to bfloat16 and widens the product
// back to float32: activations, norms, softmax, the loss, the penalty's reductions,
// weights, gradients and optimizer state stay float32, so a checkpoint trained in bf16 is
// an ordinary float32 checkpoint. Attention's two products stay float32: by the FLOP count
// of bench-train, about 2% of a step at the arithmetic tasks' 17 tokens and about 14% at
// 128-byte text windows (d_model 192).

namespace stars {

enum class Precision { fp32, tf32, bf16 };

/// "fp32", "tf32" or "bf16".
const char* precision_name(Precision p);

/// The Precision named by `name` (one of the names above); throws std::invalid_argument
/// naming the accepted names otherwise.
Precision parse_precision(const char* name);

/// Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX-BF16). Without it
/// LibTorch emulates bfloat16 products, slower than float32.
bool cpu_has_native_bf16();

/// Why `p` cannot run on the CPU (cuda false) or on CUDA (cuda true); empty when it can.
const char* precision_unavailable_reason(Precision p, bool cuda);

/// The process's matrix-product precision (fp32 unless set).
Precision matmul_precision();

/// Sets the process's matrix-product precision (and CUDA's TF32 switches, on for tf32 only)
/// and returns the previous one. Set it before training starts: every thread reads it.
Precision set_matmul_precision(Precision p);

/// Sets a precision for one scope (a training run) and restores the previous one after.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p) : previous_(set_matmul_precision(p)) {}
  ~PrecisionScope() { set_matmul_precision(previous_); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

}  // namespace stars
