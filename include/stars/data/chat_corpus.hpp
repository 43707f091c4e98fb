#pragma once
// Conversations as training data (the task "chat"): JSONL rows rendered with ChatML,
// tokenized with a byte-level BPE, cut to data.seq_len tokens, with the loss on the
// assistant's tokens only. Batches are whole conversations padded on the right.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stars/data/batch.hpp"
#include "stars/data/chat.hpp"

namespace stars {

struct DataConfig;
class BpeTokenizer;

/// Whether the data section holds conversations (task "chat").
bool is_chat_task(const DataConfig& data);

/// The tokenizer data.tokenizer names; a ConfigError when it is empty, a DataError when
/// it cannot be read.
BpeTokenizer load_chat_tokenizer(const DataConfig& data);

/// The chat template of the tokenizer at `tokenizer` (a file or directory): ChatML, with
/// `system` as the system turn put first, or when `system` is empty the default system
/// message the directory's tokenizer_config.json template writes (Qwen's do). A template
/// that is not ChatML is a DataError naming the file: stars renders ChatML only.
ChatTemplate chat_template_for(const std::string& tokenizer, const std::string& system);

/// Copies the tokenizer at `from` (a tokenizer.json, or a directory with tokenizer.json or
/// vocab.json + merges.txt, and tokenizer_config.json where present) into directory `to`,
/// where BpeTokenizer::load(to) reads it again.
void copy_tokenizer_files(const std::string& from, const std::string& to);

/// The tokenizer saved with a model: in the run or model directory `checkpoint` names, or
/// beside the checkpoint file it names (that file's directory or the one above it, as for a
/// run's checkpoints/step_N.pt); "" when there is none.
std::string find_model_tokenizer(const std::string& checkpoint);

/// The tokenizer of the chat model at `checkpoint`: `given` when not empty, else the one
/// saved with it (find_model_tokenizer), else its config's data.tokenizer; "" when none.
std::string chat_model_tokenizer(const std::string& checkpoint, const DataConfig& data,
                                 const std::string& given = "");

/// The vocabulary size of the chat model saved at `path` (a checkpoint file or directory):
/// its tokenizer's (chat_model_tokenizer). A DataError names
/// the path when there is neither.
std::int64_t chat_model_vocab_size(const std::string& path, const DataConfig& data);

/// The training and validation conversations, tokenized.
struct ChatCorpus {
  std::vector<TokenizedChat> train, valid;
  std::string train_source, valid_source;  // e.g. "a.jsonl rows 1..950"
  std::size_t rows_cut = 0;                // conversations longer than data.seq_len tokens
  std::size_t tokens_cut = 0;              // tokens those lost
  std::size_t rows_dropped = 0;  // conversations left without an assistant token by the cut
  std::int64_t pad_id = 0;       // the id padding inputs (never a target)
};

/// Reads data.train_file (and data.valid_file, or holds out the last data.valid_fraction of
/// train_file's rows). A bad row is a DataError naming its file and line; a part left
/// without any conversation is a DataError saying what to change.
ChatCorpus load_chat_corpus(const DataConfig& data, const BpeTokenizer& tok);

/// `n` conversations drawn with replacement from the stream (seed, step): inputs are all
/// but each row's last token, targets the next token where it is the assistant's, else
/// kIgnoreIndex; rows are padded on the right with `pad_id` to the longest.
Batch chat_batch(const std::vector<TokenizedChat>& rows, int n, std::uint64_t seed,
                 std::uint64_t step, std::int64_t pad_id, torch::Device device);

/// The first `max_rows` (0: all) conversations in order, as chat_batch lays them out; the
/// same for every model and depth.
Batch chat_rows(const std::vector<TokenizedChat>& rows, int max_rows, std::int64_t pad_id,
                torch::Device device);

}  // namespace stars
