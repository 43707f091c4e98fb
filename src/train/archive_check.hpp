#pragma once
// A structural check of a checkpoint's zip container before LibTorch reads it. LibTorch
// 1.13 reads records without checking their CRC-32s and hands their contents to its
// TorchScript importer, which crashes on some damaged files (found by fuzzing); a file
// whose records are all intact, uniquely named and inside the file is safe to hand over.
#include <string>

namespace stars {

/// "" when `path` is a zip archive whose records are uniquely named, lie inside the file,
/// are stored or deflated, and match their sizes and CRC-32s; else what is wrong with it.
std::string zip_archive_problem(const std::string& path);

}  // namespace stars
