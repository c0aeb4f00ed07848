#include "server/usage.h"

#include <cmath>
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

}  // namespace

bool find_usage(std::string_view json, token_usage& out) {
  std::size_t at = json.size();
  while (at > 0) {
    at = json.rfind("\"usage\"", at - 1);
    if (at == std::string_view::npos) return false;
    std::size_t i = at + 7;
    while (i < json.size() && is_space(json[i])) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && is_space(json[i])) ++i;
    if (i >= json.size() || json[i] != '{') continue;  // null, or not a key
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
