#include "stars/data/bpe_tokenizer.hpp"

#include <queue>
#include <unordered_map>

#include "data/bpe_model.hpp"
#include "stars/config/errors.hpp"

namespace stars {
namespace {

using bpe::Model;

// Byte-pair merging of one piece, lowest rank first and leftmost among equal ranks (as
// Hugging Face's BPE and tiktoken do), over a linked list with a heap of candidate pairs.
class PieceMerger {
 public:
  explicit PieceMerger(const Model& model) : model_(model) {}

  void merge(std::string_view piece, std::vector<std::int64_t>* out) {
    symbols_.clear();
    const int n = static_cast<int>(piece.size());
    for (int i = 0; i < n; ++i)
      symbols_.push_back(
          {model_.byte_id[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1});
    for (int i = 0; i + 1 < n; ++i) push_pair(i);
    while (!heap_.empty()) {
      Candidate c = heap_.top();
      heap_.pop();
      Symbol& left = symbols_[c.left];
      if (left.id != c.left_id || left.next != c.right || symbols_[c.right].id != c.right_id)
        continue;  // stale: one side has merged since
      left.id = c.merged;
      left.next = symbols_[c.right].next;
      if (left.next >= 0) symbols_[left.next].prev = c.left;
      symbols_[c.right].id = -1;
      if (left.prev >= 0) push_pair(left.prev);
      push_pair(c.left);
    }
    for (int i = 0; i >= 0; i = symbols_[i].next) out->push_back(symbols_[i].id);
  }

 private:
  struct Symbol {
    std::int64_t id;
    int prev, next;
  };
  struct Candidate {
    std::int32_t rank;
    int left, right;
    std::int64_t left_id, right_id, merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };

  void push_pair(int left) {
    int right = symbols_[left].next;
    if (right < 0) return;
    std::int64_t a = symbols_[left].id, b = symbols_[right].id;
    auto it =
        model_.merges.find((static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint64_t>(b));
    if (it != model_.merges.end()) heap_.push({it->second.rank, left, right, a, b, it->second.id});
  }

  const Model& model_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap_;
};

// Encodes text that holds no added token: pre-tokenizer pieces, each merged once per call.
class SegmentEncoder {
 public:
  explicit SegmentEncoder(const Model& model) : model_(model), merger_(model) {}

  void encode(std::string_view segment, std::vector<std::int64_t>* out) {
    if (segment.empty()) return;
    std::string prefixed;
    if (model_.pre.add_prefix_space && segment.front() != ' ') {
      prefixed = " " + std::string(segment);
      segment = prefixed;
    }
    model_.pre.split(segment, &pieces_);
    for (bpe::Span span : pieces_)
      encode_piece(segment.substr(span.begin, span.end - span.begin), out);
  }

 private:
  void encode_piece(std::string_view piece, std::vector<std::int64_t>* out) {
    if (piece.size() == 1) {
      out->push_back(model_.byte_id[static_cast<unsigned char>(piece[0])]);
      return;
    }
    std::string key(piece);
    auto hit = cache_.find(key);
    if (hit == cache_.end()) {
      std::vector<std::int64_t> ids;
      auto whole = model_.ignore_merges ? model_.id_of_bytes.find(key) : model_.id_of_bytes.end();
      if (whole != model_.id_of_bytes.end())
        ids.push_back(whole->second);
      else
        merger_.merge(piece, &ids);
      hit = cache_.emplace(std::move(key), std::move(ids)).first;
    }
    out->insert(out->end(), hit->second.begin(), hit->second.end());
  }

  const Model& model_;
  PieceMerger merger_;
  std::vector<bpe::Span> pieces_;
  std::unordered_map<std::string, std::vector<std::int64_t>> cache_;
};

// The added token that starts at `pos`, the longest where several do; nullptr if none.
const AddedToken* added_at(const Model& model, std::string_view text, std::size_t pos) {
  for (const AddedToken& t : model.added)  // sorted longest first
    if (text.compare(pos, t.content.size(), t.content) == 0) return &t;
  return nullptr;
}

}  // namespace

BpeTokenizer::BpeTokenizer(std::shared_ptr<const bpe::Model> model) : model_(std::move(model)) {}

std::vector<std::int64_t> BpeTokenizer::encode(std::string_view text, bool parse_added) const {
  std::vector<std::int64_t> out;
  out.reserve(text.size() / 3);
  SegmentEncoder segments(*model_);
  std::array<bool, 256> starts{};
  if (parse_added)
    for (const AddedToken& t : model_->added)
      starts[static_cast<unsigned char>(t.content[0])] = true;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!starts[static_cast<unsigned char>(text[i])]) continue;
    const AddedToken* token = added_at(*model_, text, i);
    if (token == nullptr) continue;
    segments.encode(text.substr(begin, i - begin), &out);
    out.push_back(token->id);
    begin = i + token->content.size();
    i = begin - 1;
  }
  segments.encode(text.substr(begin), &out);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<std::int64_t>& ids, bool skip_special) const {
  std::string out;
  const auto n = static_cast<std::int64_t>(model_->token_bytes.size());
  for (std::int64_t id : ids) {
    if (id < 0 || id >= n || !model_->assigned[id])
      throw DataError("token id " + std::to_string(id) + " is not in the vocabulary (ids 0.." +
                      std::to_string(n - 1) + ")");
    if (skip_special && model_->special[id]) continue;
    out += model_->token_bytes[id];
  }
  return out;
}

std::size_t BpeTokenizer::token_length(std::int64_t id) const {
  const auto n = static_cast<std::int64_t>(model_->token_bytes.size());
  return id >= 0 && id < n ? model_->token_bytes[id].size() : 0;
}

std::int64_t BpeTokenizer::vocab_size() const {
  return static_cast<std::int64_t>(model_->token_bytes.size());
}

std::int64_t BpeTokenizer::merge_count() const {
  return static_cast<std::int64_t>(model_->merges.size());
}

std::optional<std::int64_t> BpeTokenizer::id_of(std::string_view token) const {
  for (const AddedToken& t : model_->added)
    if (t.content == token) return t.id;
  auto it = model_->id_of_bytes.find(std::string(token));
  if (it == model_->id_of_bytes.end()) return std::nullopt;
  return it->second;
}

const std::vector<AddedToken>& BpeTokenizer::added_tokens() const {
  return model_->added;
}

std::string BpeTokenizer::describe() const {
  return "byte-level BPE: " + std::to_string(vocab_size()) + " tokens, " +
         std::to_string(merge_count()) + " merges, " + std::to_string(model_->added.size()) +
         " added, pre-tokenizer " + model_->pre.describe();
}

}  // namespace stars
