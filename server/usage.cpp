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

std::uint32_t count(const nlohmann::json& j, const char* a, const char* b) {
  for (const char* k : {a, b}) {
    auto it = j.find(k);
    if (it != j.end() && it->is_number_unsigned()) {
      const auto v = it->get<std::uint64_t>();
      return v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
    }
  }
  return 0;
}

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
    auto j = nlohmann::json::parse(json.substr(i, end - i), nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    token_usage u;
    u.prompt_tokens = count(j, "prompt_tokens", "input_tokens");
    u.completion_tokens = count(j, "completion_tokens", "output_tokens");
    if (!j.contains("prompt_tokens") && !j.contains("input_tokens") &&
        !j.contains("completion_tokens") && !j.contains("output_tokens")) {
      continue;
    }
    out = u;
    return true;
  }
  return false;
}

}  // namespace dg::server
