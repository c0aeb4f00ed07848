#include "detectors/request_parser.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace dg::detectors {
namespace {

using json = nlohmann::json;

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void utf8_truncate(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

pb::MessageRole role_of(std::string_view r) {
  if (r == "system") return pb::ROLE_SYSTEM;
  if (r == "user") return pb::ROLE_USER;
  if (r == "assistant") return pb::ROLE_ASSISTANT;
  if (r == "tool" || r == "function") return pb::ROLE_TOOL;
  if (r == "developer") return pb::ROLE_DEVELOPER;
  return pb::ROLE_OTHER;
}

// Text of a content value: a string, or an array of parts ({"type":"text","text":..},
// {"type":"input_text","text":..}, or bare strings). Other parts (images, audio) add nothing.
void append_content(const json& content, std::string& out, std::size_t max) {
  auto add = [&](const std::string& t) {
    if (out.size() >= max) return;
    if (!out.empty()) out.push_back('\n');
    std::size_t n = std::min(t.size(), max - std::min(max, out.size()));
    // Never split a UTF-8 sequence: back off to the start of the character at the cut.
    while (n > 0 && n < t.size() && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
    out.append(t, 0, n);
  };
  if (content.is_string()) {
    add(content.get_ref<const std::string&>());
  } else if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_string()) {
        add(part.get_ref<const std::string&>());
      } else if (part.is_object()) {
        auto it = part.find("text");
        if (it != part.end() && it->is_string()) add(it->get_ref<const std::string&>());
      }
    }
  }
}

std::string_view string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::uint32_t clamp_u32(double v) {
  if (!(v > 0)) return 0;
  if (v > 4294967295.0) return 4294967295u;
  return static_cast<std::uint32_t>(v);
}

// One list of role-tagged messages (chat "messages", responses "input" items).
void read_messages(const json& messages, pb::QueryEvent& ev, const parse_limits& limits,
                   std::string& system, std::string& last_user) {
  std::size_t count = 0;
  for (const auto& m : messages) {
    if (count >= limits.max_messages) break;
    ++count;
    if (m.is_string()) {  // responses API: a bare string item is user text
      ev.add_roles(pb::ROLE_USER);
      last_user.clear();
      append_content(m, last_user, limits.max_text_bytes);
      continue;
    }
    if (!m.is_object()) continue;
    std::string_view role = string_field(m, "role");
    if (role.empty()) {
      // responses API items without a role (function_call, function_call_output, ...)
      std::string_view type = string_field(m, "type");
      ev.add_roles(type == "function_call_output" ? pb::ROLE_TOOL
                   : type == "function_call"      ? pb::ROLE_ASSISTANT
                                                  : pb::ROLE_OTHER);
      continue;
    }
    pb::MessageRole r = role_of(role);
    ev.add_roles(r);
    const json* content = field(m, "content");
    if (content == nullptr) continue;
    if (r == pb::ROLE_SYSTEM || r == pb::ROLE_DEVELOPER) {
      append_content(*content, system, limits.max_text_bytes);
    } else if (r == pb::ROLE_USER) {
      last_user.clear();
      append_content(*content, last_user, limits.max_text_bytes);
    }
  }
  ev.set_message_count(static_cast<std::uint32_t>(count));
}

// completions "prompt" / embeddings "input": a string, a list of strings, or token arrays.
void read_prompt_list(const json& p, std::string& out, const parse_limits& limits,
                      std::uint32_t& items) {
  if (p.is_string()) {
    out = p.get<std::string>();
    items = 1;
  } else if (p.is_array()) {
    items = static_cast<std::uint32_t>(std::min(p.size(), limits.max_messages));
    for (auto it = p.rbegin(); it != p.rend(); ++it) {  // the last text prompt
      if (it->is_string()) {
        out = it->get<std::string>();
        break;
      }
    }
  }
}

}  // namespace

int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

status parse_request_body(std::string_view body, pb::QueryEvent& ev, const parse_limits& limits) {
  ev.set_request_bytes(body.size());
  if (body.size() > limits.max_body_bytes) return status::invalid_argument("request body too large");
  if (json_depth(body, limits.max_depth) > limits.max_depth) {
    return status::invalid_argument("request body nested too deeply");
  }
  try {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return status::invalid_argument("request body is not valid JSON");
    return parse_request_json(j, ev, limits);
  } catch (const std::exception& e) {  // bad_alloc and the like: never out of the analyzer
    return status::internal(std::string("request body: ") + e.what());
  }
}

status parse_request_json(const json& body, pb::QueryEvent& ev, const parse_limits& limits) {
  if (!body.is_object()) return status::invalid_argument("request body is not a JSON object");
  try {
    if (auto m = string_field(body, "model"); !m.empty()) {
      ev.set_model(std::string(m.substr(0, 256)));
    }
    if (const json* t = field(body, "temperature"); t && t->is_number()) ev.set_temperature(t->get<double>());
    if (const json* t = field(body, "top_p"); t && t->is_number()) ev.set_top_p(t->get<double>());
    if (const json* t = field(body, "n"); t && t->is_number()) ev.set_n(clamp_u32(t->get<double>()));
    for (const char* key : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
      if (const json* t = field(body, key); t && t->is_number()) {
        ev.set_max_tokens(clamp_u32(t->get<double>()));
        break;
      }
    }
    if (const json* t = field(body, "stream"); t && t->is_boolean()) ev.set_stream(t->get<bool>());
    // logprobs: a bool in chat, an int (the number of top tokens) in completions.
    if (const json* t = field(body, "logprobs"); t) {
      if (t->is_boolean()) {
        ev.set_logprobs(t->get<bool>());
      } else if (t->is_number()) {
        double v = t->get<double>();
        ev.set_logprobs(v > 0 || t->is_number_integer());
        ev.set_top_logprobs(clamp_u32(v));
      }
    }
    if (const json* t = field(body, "top_logprobs"); t && t->is_number()) {
      ev.set_top_logprobs(clamp_u32(t->get<double>()));
    }
    if (const json* lb = field(body, "logit_bias"); lb && lb->is_object()) {
      ev.set_logit_bias_count(static_cast<std::uint32_t>(lb->size()));
      double mx = 0;
      for (const auto& [k, v] : lb->items()) {
        if (v.is_number()) {
          double a = std::fabs(v.get<double>());
          if (std::isfinite(a)) mx = std::max(mx, a);
        }
      }
      ev.set_logit_bias_max_abs(mx);
    }
    if (const json* t = field(body, "tools"); t && t->is_array()) {
      ev.set_tools_count(static_cast<std::uint32_t>(t->size()));
    } else if (const json* f = field(body, "functions"); f && f->is_array()) {
      ev.set_tools_count(static_cast<std::uint32_t>(f->size()));
    }

    std::string system, prompt;
    if (const json* msgs = field(body, "messages"); msgs && msgs->is_array()) {
      read_messages(*msgs, ev, limits, system, prompt);
    } else if (const json* input = field(body, "input"); input) {
      if (input->is_array() && !input->empty() && (*input)[0].is_object()) {
        read_messages(*input, ev, limits, system, prompt);  // responses API items
      } else {
        std::uint32_t items = 0;
        read_prompt_list(*input, prompt, limits, items);  // embeddings, or responses with text
        if (items > 0) {
          ev.set_message_count(items);
          ev.add_roles(pb::ROLE_USER);
        }
      }
    } else if (const json* p = field(body, "prompt"); p) {
      std::uint32_t items = 0;
      read_prompt_list(*p, prompt, limits, items);
      if (items > 0) {
        ev.set_message_count(items);
        ev.add_roles(pb::ROLE_USER);
      }
    }
    if (auto instr = string_field(body, "instructions"); !instr.empty()) {  // responses API
      if (!system.empty()) system.push_back('\n');
      system.append(instr);
    }
    if (const json* s = field(body, "system"); s && (s->is_string() || s->is_array())) {
      append_content(*s, system, limits.max_text_bytes);  // Anthropic-style top-level system
    }
    utf8_truncate(system, limits.max_text_bytes);
    utf8_truncate(prompt, limits.max_text_bytes);
    if (!system.empty()) {
      ev.set_system_prompt_hash(hash64(system, system_prompt_hash_seed) | 1u);  // 0 means none
      ev.set_system_prompt(std::move(system));
    }
    auto digest = sha256(prompt);
    ev.set_prompt_text_hash(std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
    ev.set_prompt_text(std::move(prompt));
    return status::ok();
  } catch (const std::exception& e) {
    return status::invalid_argument(std::string("request body: ") + e.what());
  }
}

}  // namespace dg::detectors
