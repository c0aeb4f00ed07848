#include "server/usage.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "common/json_sax.h"

namespace dg::server {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The end (one past '}') of the object starting at text[start] == '{', or npos.
std::size_t object_end(std::string_view text, std::size_t start) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 16) return std::string_view::npos;  // usage objects are shallow
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// Collects the top-level token counts of a usage object in one pass: the response path runs
// this for every answer, and a tree of the object (with its nested *_details maps), or even
// nlohmann's SAX lexer, cost more than the rest of the scan.
class usage_reader {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number(double v, bool integer) {
    // Non-negative integers only (nlohmann's number_unsigned), clamped to 32 bits.
    if (depth_ == 1 && integer && v >= 0 && !std::signbit(v)) {
      const auto n = v > 4294967295.0 ? 0xffffffffu : static_cast<std::uint32_t>(v);
      switch (key_) {
        case which::prompt_tokens: set(prompt_, n, 0); break;
        case which::input_tokens: set(prompt_, n, 1); break;
        case which::completion_tokens: set(completion_, n, 0); break;
        case which::output_tokens: set(completion_, n, 1); break;
        case which::other: break;
      }
    }
    return true;
  }
  bool string(std::string_view) { return true; }
  bool start_object() { return ++depth_, true; }
  bool end_object() { return --depth_, true; }
  bool start_array() { return ++depth_, true; }
  bool end_array() { return --depth_, true; }
  // The key is classified, not kept: keeping a copy allocated for every answer.
  bool key(std::string_view k) {
    if (depth_ != 1) return true;
    key_ = k == "prompt_tokens"       ? which::prompt_tokens
           : k == "input_tokens"      ? which::input_tokens
           : k == "completion_tokens" ? which::completion_tokens
           : k == "output_tokens"     ? which::output_tokens
                                      : which::other;
    any_key_ |= key_ != which::other;
    return true;
  }

  // Chat's names win over the Responses API's when both are present.
  bool found() const { return any_key_; }
  token_usage result() const { return {prompt_.value, completion_.value}; }

 private:
  struct pick {
    std::uint32_t value = 0;
    int rank = 2;
  };
  static void set(pick& p, std::uint32_t v, int rank) {
    if (rank < p.rank) p = {v, rank};
  }

  enum class which { other, prompt_tokens, input_tokens, completion_tokens, output_tokens };

  int depth_ = 0;
  which key_ = which::other;
  bool any_key_ = false;
  pick prompt_, completion_;
};

// The usual usage object, read in one pass without the general reader: objects
// of plain ASCII keys (no escape) and unsigned integers (at most 19 digits, no
// fraction or exponent), as every upstream writes it. It hands `usage` the
// tokens the general reader would (it accepts only JSON), so the two agree by
// construction; anything else (an array, a literal, a sign, a fraction, an
// escape, a non-ASCII byte, deep nesting, a syntax error) makes it give up and
// the general reader decide. The response path runs this for every answer: the
// search, object_end and the general reader were a sixth of the request path's
// own instructions (callgrind).
class plain_usage_reader {
 public:
  plain_usage_reader(std::string_view text, std::size_t at) : s_(text), i_(at) {}

  // True when the object at `at` was read whole; `usage` then holds its counts.
  bool read(usage_reader& usage) { return object(usage, 0); }

 private:
  static constexpr int max_depth = 15;  // the general reader takes 16 levels: leave the edge to it

  void skip_space() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  bool object(usage_reader& usage, int depth) {
    if (depth > max_depth) return false;
    ++i_;  // '{'
    usage.start_object();
    skip_space();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, usage.end_object(), true;
    for (;;) {
      std::string_view key;
      if (!string(key)) return false;
      usage.key(key);
      skip_space();
      if (i_ >= s_.size() || s_[i_] != ':') return false;
      ++i_;
      skip_space();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '{') {
        if (!object(usage, depth + 1)) return false;
      } else if (!unsigned_integer(usage)) {
        return false;
      }
      skip_space();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '}') return ++i_, usage.end_object(), true;
      if (s_[i_] != ',') return false;
      ++i_;
      skip_space();
    }
  }
  bool string(std::string_view& out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    const std::size_t b = ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        out = s_.substr(b, i_++ - b);
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
      ++i_;
    }
    return false;
  }
  bool unsigned_integer(usage_reader& usage) {
    const std::size_t b = i_;
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') v = v * 10 + static_cast<std::uint64_t>(s_[i_++] - '0');
    const std::size_t n = i_ - b;
    if (n == 0 || n > 19 || (n > 1 && s_[b] == '0')) return false;
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
    usage.number(static_cast<double>(v), true);  // as the general reader hands a uint64
    return true;
  }

  std::string_view s_;
  std::size_t i_;
};

// The offset of the last "usage" (with its quotes) that starts before `before`, or npos.
std::size_t last_usage_key(std::string_view json, std::size_t before) {
  constexpr std::string_view key = "\"usage\"";
  // By its 'g', rarer in JSON than the quote, with memrchr (vectorised).
  std::size_t limit = std::min(before + 4, json.size());  // a 'g' at before + 4 starts a key at before
  while (limit > 4) {
    const void* g = memrchr(json.data() + 4, 'g', limit - 4);
    if (!g) return std::string_view::npos;
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(g) - json.data()) - 4;
    if (at + key.size() <= json.size() && json.compare(at, key.size(), key) == 0) return at;
    limit = at + 4;
  }
  return std::string_view::npos;
}

}  // namespace

bool find_usage(std::string_view json, token_usage& out) {
  std::size_t at = json.size();
  while (at > 0) {
    at = last_usage_key(json, at);
    if (at == std::string_view::npos) return false;
    std::size_t i = at + 7;
    while (i < json.size() && is_space(json[i])) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && is_space(json[i])) ++i;
    if (i >= json.size() || json[i] != '{') continue;  // null, or not a key
    {
      usage_reader usage;
      if (plain_usage_reader(json, i).read(usage)) {
        if (!usage.found()) continue;
        out = usage.result();
        return true;
      }
    }
    const std::size_t end = object_end(json, i);
    if (end == std::string_view::npos) continue;
    thread_local dg::json::sax_reader reader;
    usage_reader usage;
    if (reader.parse(json.substr(i, end - i), usage, 16) != dg::json::sax_result::ok || !usage.found()) continue;
    out = usage.result();
    return true;
  }
  return false;
}

}  // namespace dg::server
