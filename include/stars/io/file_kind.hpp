#pragma once
// What kind of file a path holds, read from its first bytes, so that a file given in the
// wrong place (a config as --checkpoint, say) is named for what it is.
#include <string>

namespace stars {

enum class FileKind { missing, directory, empty, zip, safetensors, json, text, other };

/// The kind of `path`, from its first bytes (never reads the whole file).
FileKind sniff_file_kind(const std::string& path);

/// "a JSON file", "a zip archive", ...: the kind as a phrase for an error message.
std::string describe(FileKind kind);

/// A hint for a file of `kind` given where a checkpoint was expected ("" where none helps).
std::string kind_hint(FileKind kind);

}  // namespace stars
