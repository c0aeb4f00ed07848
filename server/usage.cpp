#include "server/usage.h"

#include <nlohmann/json.hpp>

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

// Collects the top-level token counts of a usage object with a SAX pass: the
// response path ran this for every answer, and a DOM of the object (with its
// nested *_details maps) cost more than the rest of the scan.
class usage_sax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ == 1) {
      const auto n = v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
      if (key_ == "prompt_tokens") set(prompt_, n, 0);
      if (key_ == "input_tokens") set(prompt_, n, 1);
      if (key_ == "completion_tokens") set(completion_, n, 0);
      if (key_ == "output_tokens") set(completion_, n, 1);
    }
    return scalar();
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (depth_ == 1) key_.assign(k);
    any_key_ |= depth_ == 1 && (k == "prompt_tokens" || k == "input_tokens" ||
                                k == "completion_tokens" || k == "output_tokens");
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
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
  bool scalar() { return true; }
  bool open() {
    ++depth_;
    return depth_ <= 16;
  }
  bool close() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  std::string key_;
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
    usage_sax sax;
    const std::string_view object = json.substr(i, end - i);
    if (!nlohmann::json::sax_parse(object.begin(), object.end(), &sax) || !sax.found()) continue;
    out = sax.result();
    return true;
  }
  return false;
}

}  // namespace dg::server
