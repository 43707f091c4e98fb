// Range checks for a parsed Config: each field against what its field list accepts
// (fields.hpp), then the rules that tie fields together. Each failure names the key path
// and the bad value.
#include <sstream>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/config/fields.hpp"

namespace stars {
namespace config_fields {
namespace {

std::string number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

}  // namespace

bool Range::contains(double x) const {
  const bool above_min = min_open ? x > min : x >= min;
  const bool below_max = max_open ? x < max : x <= max;
  return above_min && below_max;
}

std::string Range::rule() const {
  std::string text;
  const bool has_min = min > -std::numeric_limits<double>::infinity();
  const bool has_max = max < std::numeric_limits<double>::infinity();
  if (has_min && has_max)
    text = std::string("in ") + (min_open ? "(" : "[") + number(min) + ", " + number(max) +
           (max_open ? ")" : "]");
  else if (has_min)
    text = (min_open ? "> " : ">= ") + number(min);
  else if (has_max)
    text = (max_open ? "< " : "<= ") + number(max);
  else
    text = "any number";
  return note ? text + " (" + note + ")" : text;
}

Range at_least(double min, const char* note) {
  Range r;
  r.min = min, r.note = note;
  return r;
}

Range above(double min, const char* note) {
  Range r = at_least(min, note);
  r.min_open = true;
  return r;
}

Range between(double min, double max, const char* brackets, const char* note) {
  Range r;
  r.min = min, r.max = max, r.note = note;
  r.min_open = brackets[0] == '(';
  r.max_open = brackets[1] == ')';
  return r;
}

bool Words::contains(const std::string& word) const {
  for (const auto& w : valid)
    if (w == word) return true;
  return false;
}

std::string Words::rule() const {
  std::string text = "valid: ";
  for (std::size_t i = 0; i < valid.size(); ++i) text += (i ? ", " : "") + valid[i];
  return text;
}

std::string current_key(const std::string& key) {
  return key == "reg" ? "jacobian_penalty" : key;
}

}  // namespace config_fields

namespace {

using config_fields::fields;

template <typename T>
void require(bool ok, const std::string& path, const T& value, const std::string& rule) {
  if (ok) return;
  std::ostringstream msg;
  msg << path << " = " << value << " is out of range: " << rule;
  throw ConfigError(msg.str());
}

/// Checks every field of a section against what its field list accepts.
class Validator {
 public:
  explicit Validator(std::string path) : path_(std::move(path)) {}

  template <typename T>
  void field(const char* key, const T& value, const config_fields::Range& range, const char*) {
    require(range.contains(value), at(key), value, "must be " + range.rule());
  }
  void field(const char* key, const std::vector<int>& values, const config_fields::Range& range,
             const char*) {
    for (int value : values)
      require(range.contains(value), at(key), value, "each must be " + range.rule());
  }
  void field(const char* key, const std::string& value, const config_fields::Words& words,
             const char*) {
    require(words.contains(value), at(key), '"' + value + '"', words.rule());
  }
  void field(const char*, const std::string&, config_fields::AnyText, const char*) {}
  void field(const char*, bool, config_fields::Flag, const char*) {}
  template <typename E, typename Table>
  void choice(const char*, E, const Table&, const char*) {}  // parsing accepted only names
  template <typename S>
  void section(const char* key, S& sub, const char*, const char* = nullptr) {
    Validator v(at(key));
    fields(v, sub);
  }
  void phases(const char* key, std::vector<PhaseConfig>& phases, const char*) {
    for (std::size_t i = 0; i < phases.size(); ++i) {
      Validator v(at(key) + "." + std::to_string(i));
      fields(v, phases[i]);
    }
  }

 private:
  std::string at(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  std::string path_;
};

/// Text windows and conversations are read, not generated: no answers checked while
/// training, no difficulty.
void validate_read_data(const Config& c) {
  const std::string task = "data.task = " + c.data.task;
  require(!c.data.train_file.empty(), "data.train_file", "\"\"",
          task + (c.data.task == "text" ? " needs a UTF-8 text file to train on"
                                        : " needs a JSONL file of conversations to train on"));
  require(c.data.seq_len <= c.model.max_len, "data.seq_len", c.data.seq_len,
          "must be <= model.max_len = " + std::to_string(c.model.max_len) +
              " (positions are learned up to max_len)");
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    const PhaseConfig& p = c.phases[i];
    const std::string at = "phases." + std::to_string(i);
    require(p.until.accuracy == 0, at + ".until.accuracy", p.until.accuracy,
            "must be 0 for " + task +
                " (no answers are checked while training; the phase runs its steps)");
    require(p.min_difficulty == 0 && p.max_difficulty == 0, at + ".max_difficulty",
            p.max_difficulty, "must be 0 with min_difficulty 0 for " + task);
  }
}

/// Loop counts tied to difficulty need problems that have one: generated ones, not text
/// windows or problems read from a file.
void validate_loops_per_difficulty(const Config& c) {
  const bool read = c.data.task == "text" || c.data.task == "chat";
  const bool generated = !read && c.data.train_file.empty();
  for (std::size_t i = 0; i < c.phases.size(); ++i)
    require(
        generated || c.phases[i].loops.per_difficulty == 0,
        "phases." + std::to_string(i) + ".loops.per_difficulty", c.phases[i].loops.per_difficulty,
        "must be 0 for " + (read ? "data.task = " + c.data.task + " (its rows have no difficulty)"
                                 : std::string("problems read from data.train_file (they "
                                               "carry no difficulty)")));
}

/// A phase that trains the exit gate needs a model with one; the gate-only stage trains
/// nothing the Jacobian penalty acts on.
void validate_gate_training(const Config& c, std::size_t phase) {
  const PhaseConfig& p = c.phases[phase];
  const std::string at = "phases." + std::to_string(phase);
  const std::string objective = enum_name(config_fields::kGateObjectives, p.exit_gate.objective);
  if (p.exit_gate.objective != GateObjective::off && !c.model.exit_gate)
    throw ConfigError(at + ".exit_gate.objective = " + objective +
                      ": the model has no exit gate; set model.exit_gate = true, or objective "
                      "off");
  require(p.exit_gate.objective != GateObjective::improvement || p.jacobian_penalty.weight == 0,
          at + ".jacobian_penalty.weight", p.jacobian_penalty.weight,
          "must be 0 with " + at + ".exit_gate.objective = improvement (only the gate trains)");
}

/// The rules that tie fields together.
void validate_relations(const Config& c) {
  const ModelConfig& m = c.model;
  require(m.d_model % m.n_heads == 0, "model.n_heads", m.n_heads,
          "must divide model.d_model = " + std::to_string(m.d_model));
  require(m.n_kv_heads == 0 || m.n_heads % m.n_kv_heads == 0, "model.n_kv_heads", m.n_kv_heads,
          "must divide model.n_heads = " + std::to_string(m.n_heads) + " (0: one per head)");
  require(m.positions != Positions::rope || (m.d_model / m.n_heads) % 2 == 0, "model.n_heads",
          m.n_heads,
          "must leave an even head width d_model / n_heads for rotary embeddings (d_model = " +
              std::to_string(m.d_model) + ")");
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    const LoopsConfig& l = c.phases[i].loops;
    const std::string at = "phases." + std::to_string(i) + ".loops";
    require(l.max >= l.min, at + ".max", l.max,
            "must be >= " + at + ".min = " + std::to_string(l.min));
    validate_gate_training(c, i);
  }
  if (c.data.task == "text" || c.data.task == "chat") validate_read_data(c);
  validate_loops_per_difficulty(c);
  const TrainConfig& t = c.train;
  require(t.batch_shards <= t.batch, "train.batch_shards", t.batch_shards,
          "must be in [0, train.batch] (0: one per LibTorch thread)");
  require(t.batch_shards <= 1 || m.dropout == 0, "train.batch_shards", t.batch_shards,
          "must be 0 or 1 with model.dropout > 0 (concurrent shards would interleave dropout's "
          "random draws, so runs would not repeat)");
}

}  // namespace

std::vector<std::string> config_warnings(const Config& c) {
  std::vector<std::string> warnings;
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    const PhaseConfig& p = c.phases[i];
    const std::string at = "phases." + std::to_string(i);
    const JacobianPenaltyConfig& penalty = p.jacobian_penalty;
    if (penalty.weight > 0 && penalty.start_step >= p.steps)
      warnings.push_back(at +
                         ".jacobian_penalty.start_step = " + std::to_string(penalty.start_step) +
                         " is not below " + at + ".steps = " + std::to_string(p.steps) +
                         ": the penalty never switches on in this phase; lower start_step, or "
                         "set weight 0 to train without it");
    if (p.warmup > p.steps)
      warnings.push_back(at + ".warmup = " + std::to_string(p.warmup) + " is longer than " + at +
                         ".steps = " + std::to_string(p.steps) +
                         ": the learning rate never reaches its peak " + at + ".lr");
  }
  return warnings;
}

void validate(const Config& c) {
  Config copy = c;  // the field lists take mutable sections; checking changes nothing
  Validator v("");
  fields(v, copy);
  validate_relations(c);
}

}  // namespace stars
