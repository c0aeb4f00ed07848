#include "storage/traffic_log.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace dg::storage {
namespace {

using ojson = nlohmann::ordered_json;

const char* role_name(int role) {
  switch (role) {
    case pb::ROLE_SYSTEM:
      return "system";
    case pb::ROLE_USER:
      return "user";
    case pb::ROLE_ASSISTANT:
      return "assistant";
    case pb::ROLE_TOOL:
      return "tool";
    case pb::ROLE_DEVELOPER:
      return "developer";
    default:
      return "other";
  }
}

// The last user turn as stored: the text the privacy mode kept, else a
// placeholder naming its hash (distinct prompts stay distinct).
std::string stored_prompt(const pb::QueryEvent& e) {
  if (!e.prompt_text().empty() || e.prompt_text_mode() == pb::PROMPT_TEXT_FULL) return e.prompt_text();
  if (e.prompt_text_hash().empty()) return "";
  return "[sha256:" +
         to_hex(reinterpret_cast<const std::uint8_t*>(e.prompt_text_hash().data()),
                e.prompt_text_hash().size()) +
         "]";
}

ojson messages(const pb::QueryEvent& e) {
  std::vector<int> roles(e.roles().begin(), e.roles().end());
  if (roles.empty()) {
    const std::uint32_t n = std::max<std::uint32_t>(e.message_count(), 1);
    if (e.system_prompt_hash() != 0 || !e.system_prompt().empty()) roles.push_back(pb::ROLE_SYSTEM);
    while (roles.size() < n) roles.push_back(pb::ROLE_USER);
  }
  // The message holding the prompt text: the last user turn (else the last).
  std::size_t prompt_at = roles.size() - 1;
  for (std::size_t i = roles.size(); i-- > 0;) {
    if (roles[i] == pb::ROLE_USER) {
      prompt_at = i;
      break;
    }
  }
  ojson out = ojson::array();
  bool system_done = false;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    std::string content;
    const bool is_system = roles[i] == pb::ROLE_SYSTEM || roles[i] == pb::ROLE_DEVELOPER;
    if (i == prompt_at) {
      content = stored_prompt(e);
    } else if (is_system && !system_done) {
      content = e.system_prompt();
      system_done = true;
    }
    out.push_back({{"role", role_name(roles[i])}, {"content", std::move(content)}});
  }
  return out;
}

ojson request_body(const pb::QueryEvent& e) {
  ojson r = ojson::object();
  if (!e.model().empty()) r["model"] = e.model();
  const std::string_view route = e.route();
  const bool chat = route.find("/chat/completions") != std::string_view::npos;
  const bool legacy = !chat && route.ends_with("/completions");
  const bool embeddings = route.ends_with("/embeddings");
  const bool responses = route.ends_with("/responses");
  if (legacy) {
    r["prompt"] = stored_prompt(e);
  } else if (embeddings) {
    r["input"] = stored_prompt(e);
  } else if (responses) {
    if (!e.system_prompt().empty()) r["instructions"] = e.system_prompt();
    if (e.message_count() > 1 || e.roles_size() > 1) {
      r["input"] = messages(e);
    } else {
      r["input"] = stored_prompt(e);
    }
  } else {
    r["messages"] = messages(e);
  }
  if (e.has_temperature()) r["temperature"] = e.temperature();
  if (e.has_top_p()) r["top_p"] = e.top_p();
  if (e.has_n()) r["n"] = e.n();
  if (e.has_max_tokens()) r[responses ? "max_output_tokens" : "max_tokens"] = e.max_tokens();
  if (e.stream()) r["stream"] = true;
  if (legacy) {
    // The completions API takes logprobs as a count.
    if (e.logprobs() || e.has_top_logprobs()) r["logprobs"] = e.has_top_logprobs() ? e.top_logprobs() : 1;
  } else {
    if (e.logprobs()) r["logprobs"] = true;
    if (e.has_top_logprobs()) r["top_logprobs"] = e.top_logprobs();
  }
  if (e.logit_bias_count() > 0) {
    ojson bias = ojson::object();
    for (std::uint32_t i = 0; i < e.logit_bias_count(); ++i) {
      bias[std::to_string(1000 + i)] = e.logit_bias_max_abs();
    }
    r["logit_bias"] = std::move(bias);
  }
  if (e.tools_count() > 0) {
    ojson tools = ojson::array();
    for (std::uint32_t i = 0; i < e.tools_count(); ++i) {
      tools.push_back({{"type", "function"},
                       {"function", {{"name", "tool_" + std::to_string(i)},
                                     {"parameters", {{"type", "object"}}}}}});
    }
    r["tools"] = std::move(tools);
  }
  return r;
}

// Reads exactly `n` digits at text[pos].
bool digits(std::string_view text, std::size_t& pos, int n, int& out) {
  if (pos + static_cast<std::size_t>(n) > text.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[pos++];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::string traffic_log_line(const pb::QueryEvent& e) {
  ojson j;
  j["ts"] = static_cast<double>(e.ts_micros()) / 1e6;
  j["client"] = e.client_hint().empty() ? e.client_id() : e.client_hint();
  if (!e.peer_address().empty()) j["ip"] = e.peer_address();
  if (!e.user_agent().empty()) j["user_agent"] = e.user_agent();
  if (!e.method().empty()) j["method"] = e.method();
  if (!e.route().empty()) j["path"] = e.route();
  j["request"] = request_body(e);
  ojson usage = {{"prompt_tokens", e.prompt_tokens()},
                 {"completion_tokens", e.completion_tokens()},
                 {"total_tokens", e.prompt_tokens() + e.completion_tokens()}};
  j["response"] = {{"status", e.status()}, {"usage", std::move(usage)}};
  std::string line = j.dump(-1, ' ', false, ojson::error_handler_t::replace);

  // The stored event itself, spliced in as protobuf's JSON (no re-parse).
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  std::string event_json;
  if (google::protobuf::util::MessageToJsonString(e, &event_json, po).ok()) {
    line.pop_back();  // the closing '}'
    line += ",\"x_distillguard\":";
    line += event_json;
    line += '}';
  }
  return line;
}

std::optional<micros> parse_time(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;

  // Seconds since the epoch: digits with an optional fraction.
  if (text.find('-', 1) == std::string_view::npos && text.find(':') == std::string_view::npos) {
    double v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
    if (std::fabs(v) > 9.2e12) return std::nullopt;
    return static_cast<micros>(std::llround(v * 1e6));
  }

  // ISO-8601: YYYY-MM-DD[(T| )hh:mm[:ss[.frac]]][Z|(+|-)hh[:]mm]
  std::size_t pos = 0;
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(text, pos, 4, y) || pos >= text.size() || text[pos++] != '-' ||
      !digits(text, pos, 2, mo) || pos >= text.size() || text[pos++] != '-' ||
      !digits(text, pos, 2, d)) {
    return std::nullopt;
  }
  micros frac = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    if (!digits(text, pos, 2, h) || pos >= text.size() || text[pos++] != ':' || !digits(text, pos, 2, mi)) {
      return std::nullopt;
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!digits(text, pos, 2, s)) return std::nullopt;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        micros scale = 100000;
        const std::size_t start = pos;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          frac += (text[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == start) return std::nullopt;
      }
    }
  }
  micros offset = 0;
  if (pos < text.size()) {
    const char z = text[pos];
    if (z == 'Z' || z == 'z') {
      ++pos;
    } else if (z == '+' || z == '-') {
      ++pos;
      int oh = 0, om = 0;
      if (!digits(text, pos, 2, oh)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (pos < text.size() && !digits(text, pos, 2, om)) return std::nullopt;
      offset = (z == '+' ? 1 : -1) * (static_cast<micros>(oh) * 3600 + om * 60) * 1000000;
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t t = timegm(&tm);
  return static_cast<micros>(t) * 1000000 + frac - offset;
}

}  // namespace dg::storage
