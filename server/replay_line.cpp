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
#include "server/replay_fields.h"
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

record_value value_of(const field& f) {
  record_value v;
  switch (f.k) {
    case kind::absent: break;
    case kind::string:
      v.t = record_value::type::string;
      v.text = f.text;
      break;
    case kind::number:
      v.t = record_value::type::number;
      v.number = f.number;
      v.integer = f.integer;
      break;
    case kind::object: v.t = record_value::type::object; break;
    default: v.t = record_value::type::other; break;
  }
  return v;
}

record_fields fields_of(const record_handler& h) {
  record_fields f;
  f.ts = value_of(h.record(r_ts));
  f.client = value_of(h.record(r_client));
  f.ip = value_of(h.record(r_ip));
  f.credential_kind = value_of(h.record(r_credential_kind));
  f.user_agent = value_of(h.record(r_user_agent));
  f.method = value_of(h.record(r_method));
  f.path = value_of(h.record(r_path));
  f.request = value_of(h.record(r_request)).t;
  f.response_object = h.record(r_response).k == kind::object;
  if (f.response_object) {
    f.status = value_of(h.status_field());
    f.usage_object = h.usage_is_object();
    if (f.usage_object) {
      f.prompt_tokens = value_of(h.usage(u_prompt_tokens));
      f.input_tokens = value_of(h.usage(u_input_tokens));
      f.completion_tokens = value_of(h.usage(u_completion_tokens));
      f.output_tokens = value_of(h.usage(u_output_tokens));
      f.total_tokens = value_of(h.usage(u_total_tokens));
    }
  }
  return f;
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
  const record_fields f = fields_of(h);

  if (const field& x = h.record(r_x_distillguard); x.k != kind::absent) {
    // The event as the live gateway stored it: used as is, features included.
    exported = true;
    if (x.k != kind::object) return status::invalid_argument("\"x_distillguard\" is not an object");
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // an export from a newer version
    const auto st = google::protobuf::util::JsonStringToMessage(line.substr(x.begin, x.end - x.begin), &ev, opts);
    if (!st.ok()) return status::invalid_argument("\"x_distillguard\": " + st.ToString());
    return finish_exported_event(f, ev, client);
  }

  if (auto s = identify_record(f, options, ev, client); !s.is_ok()) return s;
  // The request's own text, through the live analyzer's reader; a log line has no size or
  // depth limit of its own (the line reader caps its length).
  const field& req = h.record(r_request);
  detectors::parse_limits limits;
  limits.max_body_bytes = line.size();
  limits.max_depth = 100000;
  if (auto st = detectors::parse_request_body(line.substr(req.begin, req.end - req.begin), ev, limits); !st.is_ok()) {
    request_warning = st.to_string();
  }
  ev.clear_request_bytes();  // the live gateway's figure is the body it received, not this text
  apply_response(f, ev);
  return status::ok();
}

}  // namespace dg::server
