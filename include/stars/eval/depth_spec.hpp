#pragma once
// Depth specifications: "1..64", "0..100:2", "1,2,4,8" and comma-separated mixtures.
#include <string>
#include <vector>

namespace stars {

/// Sorted, de-duplicated depths; throws ConfigError quoting the spec and the accepted forms.
std::vector<int> parse_depths(const std::string& spec);

}  // namespace stars
