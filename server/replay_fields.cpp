#include "server/replay_fields.h"

#include <cmath>
#include <limits>

#include "server/identity.h"

namespace dg::server {
namespace {

using type = record_value::type;

std::string string_of(const record_value& v) { return v.t == type::string ? v.text : std::string(); }

// A non-negative integer count from usage, clamped to 32 bits.
std::uint32_t count_of(const record_value& v) {
  if (v.t != type::number || !(v.number > 0)) return 0;
  if (v.number >= static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(v.number);
}

}  // namespace

status record_ts(const record_fields& f, std::int64_t& micros) {
  if (f.ts.t == type::absent) return status::invalid_argument("missing \"ts\"");
  if (f.ts.t != type::number) return status::invalid_argument("\"ts\" is not a number");
  // Between 1970 and 2200: catches milliseconds passed as seconds.
  if (!std::isfinite(f.ts.number) || f.ts.number < 0 || f.ts.number > 7.3e9) {
    return status::invalid_argument("\"ts\" is not seconds since the epoch");
  }
  micros = std::llround(f.ts.number * 1e6);
  return status::ok();
}

status finish_exported_event(const record_fields& f, pb::QueryEvent& ev, std::string& client) {
  if (ev.client_id().empty()) return status::invalid_argument("\"x_distillguard\" has no client_id");
  if (ev.ts_micros() <= 0) {
    std::int64_t ts = 0;
    if (auto s = record_ts(f, ts); !s.is_ok()) return s;
    ev.set_ts_micros(ts);
  }
  client = string_of(f.client);
  if (client.empty()) client = ev.client_hint().empty() ? ev.client_id() : ev.client_hint();
  return status::ok();
}

status identify_record(const record_fields& f, const record_options& options, pb::QueryEvent& ev,
                       std::string& client) {
  std::int64_t ts = 0;
  if (auto s = record_ts(f, ts); !s.is_ok()) return s;
  if (f.request == type::absent) return status::invalid_argument("missing \"request\"");
  if (f.request != type::object) return status::invalid_argument("\"request\" is not an object");

  const std::string key = string_of(f.client);
  const std::string ip = string_of(f.ip);
  if (key.empty() && ip.empty()) return status::invalid_argument("neither \"client\" nor \"ip\"");
  client = key.empty() ? ip : key;

  credential_kind kind = credential_kind::address;
  if (!key.empty()) {
    kind = options.default_kind;
    const std::string k = string_of(f.credential_kind);
    if (k == "bearer") kind = credential_kind::bearer;
    else if (k == "api_key") kind = credential_kind::api_key;
    else if (k == "header") kind = credential_kind::header;
    else if (!k.empty()) return status::invalid_argument("\"credential_kind\" must be bearer, api_key or header");
  }
  if (options.identity == nullptr) return status::internal("no identity resolver");
  ev.set_ts_micros(ts);
  // The same id and hint as identity_resolver::identify() gives the live request.
  ev.set_client_id(options.identity->client_id(kind, client));
  ev.set_client_hint(key.empty() ? ip : credential_hint(key));
  ev.set_credential_kind(static_cast<pb::CredentialKind>(kind));
  ev.set_peer_address(ip);
  ev.set_user_agent(string_of(f.user_agent));
  const std::string method = string_of(f.method);
  ev.set_method(method.empty() ? "POST" : method);
  std::string path = string_of(f.path);
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  ev.set_route(path);
  return status::ok();
}

void apply_response(const record_fields& f, pb::QueryEvent& ev) {
  std::uint32_t http_status = 200;
  if (f.response_object) {
    const record_value& s = f.status;
    if (s.t == type::number && s.integer && s.number >= 100 && s.number <= 599) {
      http_status = static_cast<std::uint32_t>(s.number);
    }
    if (f.usage_object) {
      // chat/completions name them prompt/completion; the responses API input/output.
      std::uint32_t in = count_of(f.prompt_tokens);
      if (in == 0) in = count_of(f.input_tokens);
      std::uint32_t out = count_of(f.completion_tokens);
      if (out == 0) out = count_of(f.output_tokens);
      if (in == 0 && out == 0) in = count_of(f.total_tokens);  // embeddings
      ev.set_prompt_tokens(in);
      ev.set_completion_tokens(out);
    }
  }
  ev.set_status(http_status);
}

}  // namespace dg::server
