// event_from_line: a traffic-log line read in one pass (common/json_sax.h),
// for replay's speed: building a JSON tree of every line and then of its
// request cost more than the detectors. The request object is handed, as the
// text it is, to the same one-pass body reader the live analyzer uses, and an
// exported event's text straight to protobuf. What it makes of a line is what
// event_from_record makes of the parsed line (the record tests run both).
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "common/json_sax.h"
#include "detectors/request_parser.h"
#include "server/replay_reader.h"

namespace dg::server {
namespace {

enum class kind : std::uint8_t { absent, object, array, string, number, boolean, null };

// One member's value, decided by the key's last occurrence.
struct field {
  kind k = kind::absent;
  double number = 0;
  bool integer = false;
  std::string text;         // a string's value
  std::size_t begin = 0, end = 0;  // an object's text in the line
};

// The containers a record has: the record, its request and x_distillguard objects (cut out
// whole), its response and the response's usage; anything else is skipped.
enum class ctx : std::uint8_t { record, cut, response, usage, skip };

enum record_key : std::uint8_t {
  r_other, r_ts, r_client, r_ip, r_credential_kind, r_user_agent, r_method, r_path, r_request,
  r_response, r_x_distillguard, r_count
};
enum response_key : std::uint8_t { s_other, s_status, s_usage };
enum usage_key : std::uint8_t {
  u_other, u_prompt_tokens, u_input_tokens, u_completion_tokens, u_output_tokens, u_total_tokens, u_count
};

record_key record_key_of(std::string_view k) {
  if (k == "ts") return r_ts;
  if (k == "client") return r_client;
  if (k == "ip") return r_ip;
  if (k == "credential_kind") return r_credential_kind;
  if (k == "user_agent") return r_user_agent;
  if (k == "method") return r_method;
  if (k == "path") return r_path;
  if (k == "request") return r_request;
  if (k == "response") return r_response;
  if (k == "x_distillguard") return r_x_distillguard;
  return r_other;
}

usage_key usage_key_of(std::string_view k) {
  if (k == "prompt_tokens") return u_prompt_tokens;
  if (k == "input_tokens") return u_input_tokens;
  if (k == "completion_tokens") return u_completion_tokens;
  if (k == "output_tokens") return u_output_tokens;
  if (k == "total_tokens") return u_total_tokens;
  return u_other;
}

class record_handler {
 public:
  explicit record_handler(const json::sax_reader& reader) : reader_(reader) {}

  bool start_object() { return open(kind::object); }
  bool start_array() { return open(kind::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string_view k) {
    if (stack_.empty()) return true;
    frame& f = stack_.back();
    switch (f.c) {
      case ctx::record: f.key = record_key_of(k); break;
      case ctx::response: f.key = k == "status" ? s_status : k == "usage" ? s_usage : s_other; break;
      case ctx::usage: f.key = usage_key_of(k); break;
      default: break;
    }
    return true;
  }
  bool string(std::string_view s) {
    if (field* f = scalar(kind::string)) f->text.assign(s);
    return true;
  }
  bool number(double v, bool integer) {
    if (field* f = scalar(kind::number)) {
      f->number = v;
      f->integer = integer;
    }
    return true;
  }
  bool boolean(bool) {
    scalar(kind::boolean);
    return true;
  }
  bool null() {
    scalar(kind::null);
    return true;
  }

  bool root_is_object() const { return root_object_; }
  const field& record(record_key k) const { return record_[k]; }
  const field& status_field() const { return status_; }
  const field& usage(usage_key k) const { return usage_[k]; }
  bool usage_is_object() const { return usage_object_; }

 private:
  struct frame {
    ctx c;
    std::uint8_t key = 0;
    field* cut = nullptr;  // for ctx::cut: where the object's extent goes
  };

  // The field a value at the innermost frame sets (reset first: the last occurrence decides),
  // or null when nobody reads it.
  field* target() {
    if (stack_.empty()) return nullptr;
    const frame& f = stack_.back();
    switch (f.c) {
      case ctx::record: return &record_[f.key];
      case ctx::response:
        if (f.key == s_status) return &status_;
        if (f.key == s_usage) {
          usage_object_ = false;
          return &usage_holder_;
        }
        return nullptr;
      case ctx::usage: return &usage_[f.key];
      default: return nullptr;
    }
  }
  field* scalar(kind k) {
    field* f = target();
    if (f) {
      *f = field();
      f->k = k;
    }
    return f;
  }
  bool open(kind k) {
    if (stack_.empty()) {
      root_object_ = k == kind::object;
      stack_.push_back({root_object_ ? ctx::record : ctx::skip});
      return true;
    }
    const frame parent = stack_.back();
    field* f = scalar(k);
    frame next{ctx::skip};
    if (k == kind::object && f != nullptr) {
      if (parent.c == ctx::record && (parent.key == r_request || parent.key == r_x_distillguard)) {
        f->begin = reader_.offset() - 1;  // the '{'
        next = {ctx::cut, 0, f};
      } else if (parent.c == ctx::record && parent.key == r_response) {
        status_ = {};
        usage_object_ = false;
        for (auto& u : usage_) u = {};
        next = {ctx::response};
      } else if (parent.c == ctx::response && parent.key == s_usage) {
        usage_object_ = true;
        for (auto& u : usage_) u = {};
        next = {ctx::usage};
      }
    }
    stack_.push_back(next);
    return true;
  }
  bool close() {
    const frame f = stack_.back();
    stack_.pop_back();
    if (f.c == ctx::cut) f.cut->end = reader_.offset();  // past the '}'
    return true;
  }

  const json::sax_reader& reader_;
  std::vector<frame> stack_;
  bool root_object_ = false;
  std::array<field, r_count> record_{};
  field status_;
  field usage_holder_;  // the "usage" member itself (only whether it is an object matters)
  bool usage_object_ = false;
  std::array<field, u_count> usage_{};
};

std::string string_of(const field& f) { return f.k == kind::string ? f.text : std::string(); }

std::uint32_t count_or_zero(const field& f) {
  if (f.k != kind::number || !(f.number > 0)) return 0;
  if (f.number >= static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(f.number);
}

status read_ts(const field& f, std::int64_t& out) {
  if (f.k == kind::absent) return status::invalid_argument("missing \"ts\"");
  if (f.k != kind::number) return status::invalid_argument("\"ts\" is not a number");
  // Between 1970 and 2200: catches milliseconds passed as seconds.
  if (!std::isfinite(f.number) || f.number < 0 || f.number > 7.3e9) {
    return status::invalid_argument("\"ts\" is not seconds since the epoch");
  }
  out = std::llround(f.number * 1e6);
  return status::ok();
}

}  // namespace

status event_from_line(std::string_view line, const record_options& options, pb::QueryEvent& ev,
                       std::string& client, std::string& request_warning, bool& exported) {
  ev.Clear();
  client.clear();
  request_warning.clear();
  exported = false;
  thread_local json::sax_reader reader;
  record_handler h(reader);
  if (reader.parse(line, h, 100000) != json::sax_result::ok) {
    return status::invalid_argument("not JSON: syntax error at byte " + std::to_string(reader.offset()));
  }
  if (!h.root_is_object()) return status::invalid_argument("not a JSON object");

  if (const field& x = h.record(r_x_distillguard); x.k != kind::absent) {
    // The event as the live gateway stored it: used as is, features included.
    exported = true;
    if (x.k != kind::object) return status::invalid_argument("\"x_distillguard\" is not an object");
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // an export from a newer version
    const auto st = google::protobuf::util::JsonStringToMessage(line.substr(x.begin, x.end - x.begin), &ev, opts);
    if (!st.ok()) return status::invalid_argument("\"x_distillguard\": " + st.ToString());
    if (ev.client_id().empty()) return status::invalid_argument("\"x_distillguard\" has no client_id");
    if (ev.ts_micros() <= 0) {
      std::int64_t ts = 0;
      if (auto s = read_ts(h.record(r_ts), ts); !s.is_ok()) return s;
      ev.set_ts_micros(ts);
    }
    client = string_of(h.record(r_client));
    if (client.empty()) client = ev.client_hint().empty() ? ev.client_id() : ev.client_hint();
    return status::ok();
  }

  std::int64_t ts = 0;
  if (auto s = read_ts(h.record(r_ts), ts); !s.is_ok()) return s;
  const field& req = h.record(r_request);
  if (req.k == kind::absent) return status::invalid_argument("missing \"request\"");
  if (req.k != kind::object) return status::invalid_argument("\"request\" is not an object");

  const std::string key = string_of(h.record(r_client));
  const std::string ip = string_of(h.record(r_ip));
  if (key.empty() && ip.empty()) return status::invalid_argument("neither \"client\" nor \"ip\"");
  client = key.empty() ? ip : key;

  credential_kind kind_of_key = credential_kind::address;
  if (!key.empty()) {
    kind_of_key = options.default_kind;
    const std::string k = string_of(h.record(r_credential_kind));
    if (k == "bearer") kind_of_key = credential_kind::bearer;
    else if (k == "api_key") kind_of_key = credential_kind::api_key;
    else if (k == "header") kind_of_key = credential_kind::header;
    else if (!k.empty()) return status::invalid_argument("\"credential_kind\" must be bearer, api_key or header");
  }
  if (options.identity == nullptr) return status::internal("no identity resolver");
  ev.set_ts_micros(ts);
  // The same id and hint as identity_resolver::identify() gives the live request.
  ev.set_client_id(options.identity->client_id(kind_of_key, client));
  ev.set_client_hint(key.empty() ? ip : credential_hint(key));
  ev.set_credential_kind(static_cast<pb::CredentialKind>(kind_of_key));
  ev.set_peer_address(ip);
  ev.set_user_agent(string_of(h.record(r_user_agent)));
  std::string method = string_of(h.record(r_method));
  ev.set_method(method.empty() ? "POST" : method);
  std::string path = string_of(h.record(r_path));
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  ev.set_route(path);

  // The request's own text, through the live analyzer's reader; a log line has no size or
  // depth limit of its own (the line reader caps its length).
  detectors::parse_limits limits;
  limits.max_body_bytes = line.size();
  limits.max_depth = 100000;
  if (auto st = detectors::parse_request_body(line.substr(req.begin, req.end - req.begin), ev, limits); !st.is_ok()) {
    request_warning = st.to_string();
  }
  ev.clear_request_bytes();  // the live gateway's figure is the body it received, not this text

  std::uint32_t http_status = 200;
  if (h.record(r_response).k == kind::object) {
    const field& s = h.status_field();
    if (s.k == kind::number && s.integer && s.number >= 100 && s.number <= 599) {
      http_status = static_cast<std::uint32_t>(s.number);
    }
    if (h.usage_is_object()) {
      // chat/completions name them prompt/completion; the responses API input/output.
      std::uint32_t in = count_or_zero(h.usage(u_prompt_tokens));
      if (in == 0) in = count_or_zero(h.usage(u_input_tokens));
      std::uint32_t out = count_or_zero(h.usage(u_completion_tokens));
      if (out == 0) out = count_or_zero(h.usage(u_output_tokens));
      if (in == 0 && out == 0) in = count_or_zero(h.usage(u_total_tokens));  // embeddings
      ev.set_prompt_tokens(in);
      ev.set_completion_tokens(out);
    }
  }
  ev.set_status(http_status);
  return status::ok();
}

}  // namespace dg::server
