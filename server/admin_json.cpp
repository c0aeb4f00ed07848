#include "server/admin_json.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "common/crypto.h"
#include "enforcement/verdict.h"
#include "server/admin_api.h"

namespace dg::server {

using nlohmann::json;

namespace {

std::string_view verdict_name(pb::Verdict v) {
  const int i = static_cast<int>(v);
  if (i < 0 || i > 3) return "allow";
  return enforcement::to_string(static_cast<enforcement::verdict>(i));
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), so that
// parsing needs no timegm and no time zone.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  const char* b = s.data() + pos;
  auto [p, ec] = std::from_chars(b, b + len, out);
  return ec == std::errc() && p == b + len;
}

json scores_json(const std::vector<detectors::detector_part>& parts) {
  json out = json::array();
  for (const auto& p : parts) {
    out.push_back({{"detector", p.detector}, {"score", p.score}, {"weight", p.weight},
                   {"reason", p.reason}});
  }
  return out;
}

}  // namespace

json time_json(micros t) {
  if (t == 0) return nullptr;
  const std::time_t secs = static_cast<std::time_t>(t / 1000000 - (t % 1000000 < 0 ? 1 : 0));
  const long ms = static_cast<long>(((t % 1000000) + 1000000) % 1000000 / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return std::string(buf);
}

bool parse_time(std::string_view s, micros& out) {
  // Plain seconds since the epoch (possibly fractional).
  if (!s.empty() && s.find_first_not_of("0123456789.") == std::string_view::npos) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0 || v > 4e9) return false;
    out = static_cast<micros>(v * 1e6);
    return true;
  }
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  if (!read_int(s, 0, 4, y) || !read_int(s, 5, 2, mo) || !read_int(s, 8, 2, d) ||
      !read_int(s, 11, 2, h) || !read_int(s, 14, 2, mi) || !read_int(s, 17, 2, se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  std::size_t pos = 19;
  micros frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    micros scale = 100000;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (pos + 6 != s.size() || s[pos + 3] != ':' || !read_int(s, pos + 1, 2, oh) ||
        !read_int(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return false;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  out = secs * 1000000 + frac;
  return true;
}

json client_summary_json(const detectors::client_report& r, std::size_t reasons) {
  json top = json::array();
  for (std::size_t i = 0; i < r.reasons.size() && i < reasons; ++i) top.push_back(r.reasons[i]);
  return {{"client_id", r.client_id},
          {"hint", r.client_hint},
          {"risk", r.risk},
          {"verdict", enforcement::to_string(r.verdict)},
          {"events", r.events},
          {"cluster", r.cluster.empty() ? json(nullptr) : json(r.cluster)},
          {"last_seen", time_json(r.last_seen_micros)},
          {"top_reasons", std::move(top)}};
}

json client_report_json(const detectors::client_report& r) {
  json j = client_summary_json(r, r.reasons.size());
  j.erase("top_reasons");
  j["own_risk"] = r.own_risk;
  j["first_seen"] = time_json(r.first_seen_micros);
  j["first_action_event"] = r.first_action_event;
  j["first_action_at"] = time_json(r.first_action_ts_micros);
  j["reasons"] = r.reasons;
  // Strongest first: that is how an operator reads "why".
  auto parts = r.scores;
  std::stable_sort(parts.begin(), parts.end(),
                   [](const auto& a, const auto& b) { return a.score > b.score; });
  j["detectors"] = scores_json(parts);
  j["source"] = "memory";
  return j;
}

json client_record_json(const pb::ClientRecord& r) {
  json scores = json::array();
  std::vector<const pb::DetectorScore*> parts;
  for (const auto& s : r.scores()) parts.push_back(&s);
  std::stable_sort(parts.begin(), parts.end(),
                   [](const auto* a, const auto* b) { return a->score() > b->score(); });
  json reasons = json::array();
  for (const auto* s : parts) {
    scores.push_back({{"detector", s->detector()}, {"score", s->score()}, {"reason", s->reason()}});
    if (!s->reason().empty()) reasons.push_back(s->reason());
  }
  return {{"client_id", r.client_id()},
          {"hint", r.client_hint()},
          {"risk", r.risk()},
          {"verdict", verdict_name(r.verdict())},
          {"events", r.events()},
          {"cluster", r.cluster().empty() ? json(nullptr) : json(r.cluster())},
          {"first_seen", time_json(r.first_seen_micros())},
          {"last_seen", time_json(r.last_seen_micros())},
          {"first_action_event", r.first_action_event()},
          {"first_action_at", time_json(r.first_action_micros())},
          {"reasons", std::move(reasons)},
          {"detectors", std::move(scores)},
          {"source", "store"}};
}

json cluster_json(const detectors::cluster_report& c) {
  return {{"cluster", c.cluster},     {"members", c.members},
          {"size", c.members.size()}, {"links", c.links},
          {"events", c.events},       {"risk", c.risk},
          {"reasons", c.reasons},     {"detectors", scores_json(c.scores)}};
}

json audit_json(const pb::AuditEntry& a) {
  json scores = json::array();
  for (const auto& s : a.scores()) {
    scores.push_back({{"detector", s.detector()}, {"score", s.score()}, {"reason", s.reason()}});
  }
  json reasons = json::array();
  for (const auto& r : a.reasons()) reasons.push_back(r);
  return {{"at", time_json(a.ts_micros())},
          {"from", verdict_name(a.from())},
          {"to", verdict_name(a.to())},
          {"risk", a.risk()},
          {"source", a.source()},
          {"cluster", a.cluster().empty() ? json(nullptr) : json(a.cluster())},
          {"reasons", std::move(reasons)},
          {"detectors", std::move(scores)}};
}

json event_json(const pb::QueryEvent& e) {
  json j = {{"at", time_json(e.ts_micros())},
            {"method", e.method()},
            {"route", e.route()},
            {"model", e.model()},
            {"status", e.status()},
            {"prompt_tokens", e.prompt_tokens()},
            {"completion_tokens", e.completion_tokens()},
            {"duration_ms", static_cast<double>(e.duration_micros()) / 1000.0},
            {"ttfb_ms", static_cast<double>(e.ttfb_micros()) / 1000.0},
            {"stream", e.stream()},
            {"messages", e.message_count()},
            {"verdict_applied", verdict_name(e.verdict_applied())},
            {"shaped", e.shaped()},
            {"watermarked", e.watermarked()},
            {"peer_address", e.peer_address()},
            {"user_agent", e.user_agent()}};
  json params = json::object();
  if (e.has_temperature()) params["temperature"] = e.temperature();
  if (e.has_top_p()) params["top_p"] = e.top_p();
  if (e.has_n()) params["n"] = e.n();
  if (e.has_max_tokens()) params["max_tokens"] = e.max_tokens();
  if (e.logprobs()) params["logprobs"] = true;
  if (e.has_top_logprobs()) params["top_logprobs"] = e.top_logprobs();
  if (e.logit_bias_count() > 0) {
    params["logit_bias_count"] = e.logit_bias_count();
    params["logit_bias_max_abs"] = e.logit_bias_max_abs();
  }
  if (e.tools_count() > 0) params["tools"] = e.tools_count();
  j["params"] = std::move(params);
  static constexpr std::string_view modes[] = {"hash", "prefix", "full"};
  const int mode = static_cast<int>(e.prompt_text_mode());
  j["prompt_text_mode"] = mode >= 0 && mode <= 2 ? modes[mode] : "hash";
  j["prompt_sha256"] = e.prompt_text_hash().empty()
                           ? json(nullptr)
                           : json(to_hex(reinterpret_cast<const std::uint8_t*>(
                                             e.prompt_text_hash().data()),
                                         e.prompt_text_hash().size()));
  if (!e.prompt_text().empty()) j["prompt"] = e.prompt_text();
  if (!e.system_prompt().empty()) j["system_prompt"] = e.system_prompt();
  return j;
}

json override_json(const verdict_override& o) {
  return {{"verdict", enforcement::to_string(o.verdict)},
          {"expires_at", time_json(o.expires_micros)},
          {"reason", o.reason},
          {"set_at", time_json(o.set_micros)}};
}

}  // namespace dg::server
