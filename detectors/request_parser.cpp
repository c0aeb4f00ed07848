#include "detectors/request_parser.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "detectors/request_text.h"

namespace dg::detectors {
namespace {

using json = nlohmann::json;

// Text of a content value: a string, or an array of parts ({"type":"text","text":..},
// {"type":"input_text","text":..}, or bare strings). Other parts (images, audio) add nothing.
void append_content(const json& content, std::string& out, std::size_t max) {
  auto add = [&](const std::string& t) { add_text(out, t, max); };
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
      ev.add_roles(role_of_item_type(string_field(m, "type")));
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
    set_request_texts(std::move(system), std::move(prompt), ev, limits);
    return status::ok();
  } catch (const std::exception& e) {
    return status::invalid_argument(std::string("request body: ") + e.what());
  }
}

}  // namespace dg::detectors
