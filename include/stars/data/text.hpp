#pragma once
// Text as training data: a UTF-8 corpus read as bytes, cut into windows of data.seq_len
// bytes, with the loss on every next byte (the task "text").
#include <cstdint>
#include <string>

#include <torch/types.h>

#include "stars/data/batch.hpp"
#include "stars/data/tokenizer.hpp"

namespace stars {

struct DataConfig;

/// Whether the data section is a text corpus (task "text") rather than generated problems.
bool is_text_task(const DataConfig& data);

/// The vocabulary the data needs: bytes for text, the arithmetic characters otherwise.
Tokenizer tokenizer_for(const DataConfig& data);

/// The training and validation text, as bytes, and where each came from.
struct TextCorpus {
  std::string train, valid;
  std::string train_source, valid_source;  // e.g. "a.txt" and "a.txt bytes 95000..100000"
};

/// Reads data.train_file (and data.valid_file, or splits the last data.valid_fraction of
/// train_file off at a line end). A missing, empty or invalid UTF-8 file, or a part shorter
/// than one window of data.seq_len + 1 bytes, is a DataError naming the file and the fix.
TextCorpus load_text_corpus(const DataConfig& data);

/// Reads one UTF-8 text file whole; errors as load_text_corpus.
std::string read_text_file(const std::string& path);

/// Throws DataError naming `path`, the byte offset and the line of the first byte sequence
/// that is not UTF-8.
void check_utf8(const std::string& bytes, const std::string& path);

/// `n` windows of seq_len + 1 bytes at offsets drawn from the stream (seed, step): inputs
/// are the first seq_len bytes, targets the byte after each position (every byte is
/// predicted). `text` must hold at least seq_len + 1 bytes.
Batch text_batch(const std::string& text, int n, int seq_len, std::uint64_t seed,
                 std::uint64_t step, torch::Device device);

/// The first `max_windows` (0: all) non-overlapping windows of seq_len + 1 bytes of `text`,
/// in order (consecutive windows share their boundary byte, so every byte after the first
/// is predicted once); the same for every model and depth.
Batch text_windows(const std::string& text, int seq_len, int max_windows, torch::Device device);

}  // namespace stars
