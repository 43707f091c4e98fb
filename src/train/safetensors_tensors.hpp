#pragma once
// Tensors to and from the bytes of a safetensors file (io/safetensors.hpp knows only bytes).
#include <istream>
#include <map>
#include <string>

#include <torch/types.h>

#include "stars/io/safetensors.hpp"

namespace stars {

/// The file's tensors by name as float32 on the CPU (a copy: the bytes may be unaligned).
/// Throws DataError naming a tensor whose dtype is not F32, F64, F16 or BF16.
std::map<std::string, torch::Tensor> float_tensors(const safetensors::File& file,
                                                   const std::string& bytes,
                                                   const std::string& origin);

/// The checked header of the safetensors file at `path` (parse_header against the file's
/// size); DataError naming `what` is expected there when it is missing.
safetensors::File read_safetensors_layout(const std::string& path, const std::string& what);

/// The tensors of `layout` (read_safetensors_layout of `path`) by name as float32 on the
/// CPU, read from the file one at a time: memory holds the tensors, never also the file's
/// bytes (2.8 GB for a 1.4B-parameter model in bf16). Throws DataError as float_tensors does,
/// or when the file ends early.
std::map<std::string, torch::Tensor> read_float_tensors(const std::string& path,
                                                        const safetensors::File& layout);

/// DataError naming the first tensor of `layout` (of the file at `path`) whose dtype is not
/// F32, F64, F16 or BF16: checked before any is read.
void require_float_entries(const safetensors::File& layout, const std::string& path);

/// Entry `e` of `layout` as float32 on the CPU, read from `in`, opened on the file at
/// `path`. Throws DataError as read_float_tensors does.
torch::Tensor read_float_entry(std::istream& in, const safetensors::File& layout,
                               const safetensors::Entry& e, const std::string& path);

/// `tensor` as a blob of `dtype` (F32, F16 or BF16), converted on the CPU.
safetensors::Blob to_blob(const std::string& name, const torch::Tensor& tensor,
                          safetensors::DType dtype = safetensors::DType::F32);

/// The whole file at `path`; DataError naming `what` is expected there when it is missing.
std::string read_file_bytes(const std::string& path, const std::string& what);

}  // namespace stars
