#include "enforcement/request_shaper.h"

#include <nlohmann/json.hpp>

#include "enforcement/openai_error.h"

namespace dg::enforcement {

using json = nlohmann::ordered_json;

const shape_level* request_shaper::rules_for(verdict v) const {
  switch (v) {
    case verdict::watermark: return &opt_.watermark;
    case verdict::throttle: return &opt_.throttle;
    case verdict::allow:
    case verdict::block: break;
  }
  return nullptr;
}

namespace {

bool truthy(const json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number()) return j.get<double>() != 0;
  return !j.is_null();
}

// Caps a numeric field at `cap`; true if it changed.
bool cap_field(json& body, const char* key, std::uint32_t cap) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_number()) return false;
  if (it->get<double>() <= cap) return false;
  *it = cap;
  return true;
}

// Whether the body could hold a logit_bias key: the text itself, or a \u escape that might spell it.
bool may_spell_logit_bias(std::string_view body) {
  return body.find("logit_bias") != std::string_view::npos || body.find("\\u") != std::string_view::npos;
}

shape_outcome refuse(std::string message, std::string_view param, std::string_view code) {
  shape_outcome out;
  out.refuse = true;
  out.status = 400;
  out.body = openai_error(message, "invalid_request_error", param, code);
  return out;
}

}  // namespace

shape_outcome request_shaper::shape(std::string& body, const shape_level* rules,
                                    bool add_include_usage) const {
  shape_outcome out;
  const bool refuse_invalid = opt_.invalid_json == "refuse";
  if (json_depth(body, max_depth) > max_depth) {
    // Too deep to read here, yet perhaps valid JSON the upstream accepts: passed on
    // unread, one deep dummy field would carry a flagged client's logprobs or
    // logit_bias past the shaping, or a logit_bias past its refusal.
    const bool owed = rules != nullptr || (opt_.refuse_logit_bias_with_logprobs && may_spell_logit_bias(body));
    if (refuse_invalid || owed) return refuse("The request body nests too deeply.", {}, "invalid_json");
    return out;
  }
  // Without rules for this client only the logit_bias-with-logprobs refusal can
  // apply, and it needs a logit_bias key: a body that cannot spell one (no
  // such text and no \u escape) is settled without building a JSON document,
  // which cost every request of everyone several microseconds.
  if (rules == nullptr && !may_spell_logit_bias(body)) {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (refuse_invalid && (first == std::string::npos || body[first] != '{' || !json::accept(body))) {
      return refuse("We could not parse the JSON body of your request.", {}, "invalid_json");
    }
    return out;
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (refuse_invalid)
      return refuse("We could not parse the JSON body of your request.", {}, "invalid_json");
    return out;
  }

  auto has_logprobs = [&] {
    auto lp = j.find("logprobs");
    auto tlp = j.find("top_logprobs");
    return (lp != j.end() && truthy(*lp)) || (tlp != j.end() && !tlp->is_null());
  };
  auto lb = j.find("logit_bias");
  const bool has_bias = lb != j.end() && lb->is_object() && !lb->empty();
  if (opt_.refuse_logit_bias_with_logprobs && has_bias && has_logprobs()) {
    return refuse("logit_bias cannot be combined with logprobs or top_logprobs on this gateway.",
                  "logit_bias", "unsupported_parameter_combination");
  }

  bool changed = false;
  if (rules) {
    if (rules->strip_logprobs) {
      for (const char* k : {"logprobs", "top_logprobs"}) {
        if (j.erase(k) > 0) {
          changed = true;
          out.actions.push_back(std::string("strip ") + k);
        }
      }
      // Responses API: include: ["message.output_text.logprobs", ...].
      auto inc = j.find("include");
      if (inc != j.end() && inc->is_array()) {
        json kept = json::array();
        for (auto& e : *inc)
          if (!(e.is_string() && e.get<std::string>().find("logprobs") != std::string::npos))
            kept.push_back(e);
        if (kept.size() != inc->size()) {
          *inc = std::move(kept);
          changed = true;
          out.actions.push_back("strip include logprobs");
        }
      }
    }
    if (rules->strip_logit_bias && j.erase("logit_bias") > 0) {
      changed = true;
      out.actions.push_back("strip logit_bias");
    }
    if (rules->max_n > 0) {
      for (const char* k : {"n", "best_of"}) {
        if (cap_field(j, k, rules->max_n)) {
          changed = true;
          out.actions.push_back(std::string("cap ") + k + " to " + std::to_string(rules->max_n));
        }
      }
    }
    if (rules->max_tokens > 0) {
      bool any = false;
      for (const char* k : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
        if (j.contains(k)) any = true;
        if (cap_field(j, k, rules->max_tokens)) {
          changed = true;
          out.actions.push_back(std::string("cap ") + k + " to " + std::to_string(rules->max_tokens));
        }
      }
      if (!any) {
        // No limit asked: set the field the endpoint understands.
        const char* k = j.contains("input")      ? "max_output_tokens"
                        : j.contains("messages") ? "max_completion_tokens"
                                                 : "max_tokens";
        j[k] = rules->max_tokens;
        changed = true;
        out.actions.push_back(std::string("set ") + k + " to " + std::to_string(rules->max_tokens));
      }
    }
  }
  if (add_include_usage) {
    auto st = j.find("stream");
    if (st != j.end() && st->is_boolean() && st->get<bool>() &&
        (j.contains("messages") || j.contains("prompt"))) {
      bool asked = false;
      auto so = j.find("stream_options");
      if (so == j.end() || so->is_null()) {
        j["stream_options"] = json{{"include_usage", true}};
        asked = true;
      } else if (so->is_object()) {
        auto iu = so->find("include_usage");
        if (iu == so->end() || !(iu->is_boolean() && iu->get<bool>())) {
          (*so)["include_usage"] = true;
          asked = true;
        }
      }
      if (asked) {
        changed = true;
        out.actions.push_back("ask for usage");
      }
    }
  }
  if (changed) {
    body = j.dump(-1, ' ', false, json::error_handler_t::replace);
    out.changed = true;
  }
  return out;
}

}  // namespace dg::enforcement
