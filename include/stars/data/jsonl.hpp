#pragma once
// JSONL problem files: the published STARS format {"num1": 1750, "num2": 4733, "answer": 6483}
// or the generic {"prompt": "1750+4733=", "answer": "6483"}, one object per line.
#include <string>
#include <vector>

#include "stars/data/task.hpp"

namespace stars {

/// Reads every problem in `path`. Blank lines are skipped; a malformed line, or a file
/// with no problems, is a DataError naming the file and line.
std::vector<Example> load_jsonl(const std::string& path);

/// Parses one line (1-based `line_no` and `path` are for messages).
Example parse_jsonl_line(const std::string& line, const std::string& path, int line_no);

/// Writes problems in the generic format.
void save_jsonl(const std::vector<Example>& examples, const std::string& path);

}  // namespace stars
