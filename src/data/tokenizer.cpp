#include "stars/data/tokenizer.hpp"

#include "stars/config/errors.hpp"

namespace stars {

Tokenizer Tokenizer::arithmetic() {
  return Tokenizer("0123456789+*= ");
}

Tokenizer Tokenizer::bytes() {
  std::string all(256, '\0');
  for (int b = 0; b < 256; ++b) all[static_cast<std::size_t>(b)] = static_cast<char>(b);
  return Tokenizer(std::move(all));
}

Tokenizer::Tokenizer(std::string chars) : chars_(std::move(chars)), index_(256, -1) {
  for (std::size_t i = 0; i < chars_.size(); ++i)
    index_[static_cast<unsigned char>(chars_[i])] = static_cast<std::int64_t>(i);
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) {
    std::int64_t id = index_[static_cast<unsigned char>(c)];
    if (id < 0)
      throw DataError("character '" + std::string(1, c) + "' in \"" + text +
                      "\" is not in the vocabulary \"" + chars_ + "\"");
    ids.push_back(id);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string out;
  for (std::int64_t id : ids) {
    if (id == eos_id()) break;
    if (id >= 0 && id < pad_id()) out += chars_[static_cast<std::size_t>(id)];
  }
  return out;
}

}  // namespace stars
