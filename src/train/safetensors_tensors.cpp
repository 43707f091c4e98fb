#include "safetensors_tensors.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "stars/config/errors.hpp"

namespace stars {
namespace {

c10::ScalarType scalar_type(safetensors::DType dtype) {
  switch (dtype) {
    case safetensors::DType::F64:
      return torch::kDouble;
    case safetensors::DType::F32:
      return torch::kFloat;
    case safetensors::DType::F16:
      return torch::kHalf;
    case safetensors::DType::BF16:
      return torch::kBFloat16;
    default:
      return torch::kByte;  // not a weight type; refused by the caller
  }
}

bool is_float(safetensors::DType dtype) {
  using safetensors::DType;
  return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

/// An uninitialised tensor of `dtype` and `shape`; DataError naming tensor `name` unless
/// dtype is a float type.
torch::Tensor empty_float_entry(const std::string& name, safetensors::DType dtype,
                                c10::IntArrayRef shape, const std::string& origin) {
  if (!is_float(dtype))
    throw DataError(
        fmt::format("'{}': tensor '{}' has dtype {}; weights must be F32, F64, "
                    "F16 or BF16",
                    origin, name, safetensors::dtype_name(dtype)));
  return torch::empty(shape, torch::TensorOptions().dtype(scalar_type(dtype)));
}

}  // namespace

std::map<std::string, torch::Tensor> float_tensors(const safetensors::File& file,
                                                   const std::string& bytes,
                                                   const std::string& origin) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : file.entries) {
    torch::Tensor t = empty_float_entry(e.name, e.dtype, e.shape, origin);
    if (e.end > e.begin)
      std::memcpy(t.data_ptr(), bytes.data() + file.data_start + e.begin, e.end - e.begin);
    out[e.name] = t.to(torch::kFloat);
  }
  return out;
}

safetensors::File read_safetensors_layout(const std::string& path, const std::string& what) {
  if (!std::filesystem::is_regular_file(path))
    throw DataError("cannot read '" + path + "': no such file (expected " + what + ")");
  const std::uint64_t size = std::filesystem::file_size(path);
  std::ifstream in(path, std::ios::binary);
  std::string head(std::min<std::uint64_t>(size, 8), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const std::uint64_t end = std::min(size, safetensors::header_end(head));
  const std::size_t have = head.size();
  head.resize(end);
  in.read(head.data() + have, static_cast<std::streamsize>(end - have));
  if (!in) throw DataError("cannot read '" + path + "'");
  return safetensors::parse_header(head, size, path);
}

void require_float_entries(const safetensors::File& layout, const std::string& path) {
  for (const auto& e : layout.entries) empty_float_entry(e.name, e.dtype, {0}, path);
}

torch::Tensor read_float_entry(std::istream& in, const safetensors::File& layout,
                               const safetensors::Entry& e, const std::string& path) {
  torch::Tensor t = empty_float_entry(e.name, e.dtype, e.shape, path);
  in.seekg(static_cast<std::streamoff>(layout.data_start + e.begin));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
  if (!in)
    throw DataError("cannot read tensor '" + e.name + "' of '" + path +
                    "': the file ended early or changed while it was read");
  return t.to(torch::kFloat);
}

std::map<std::string, torch::Tensor> read_float_tensors(const std::string& path,
                                                        const safetensors::File& layout) {
  std::ifstream in(path, std::ios::binary);
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : layout.entries) out[e.name] = read_float_entry(in, layout, e, path);
  return out;
}

safetensors::Blob to_blob(const std::string& name, const torch::Tensor& tensor,
                          safetensors::DType dtype) {
  const torch::Tensor t = tensor.detach().to(torch::kCPU, scalar_type(dtype)).contiguous();
  safetensors::Blob blob{name, dtype, t.sizes().vec(), {}};
  blob.data.assign(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return blob;
}

std::string read_file_bytes(const std::string& path, const std::string& what) {
  if (!std::filesystem::is_regular_file(path))
    throw DataError("cannot read '" + path + "': no such file (expected " + what + ")");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) throw DataError("cannot read '" + path + "'");
  return bytes.str();
}

}  // namespace stars
