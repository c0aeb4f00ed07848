// http_errors: every error the gateway answers by itself, mapped in one place
// to a status and an OpenAI-shaped JSON body:
//   {"error":{"message":"...","type":"...","param":null,"code":"..."}}
// so that the official SDKs surface it like an error from the API itself.
#pragma once

#include <string>
#include <string_view>

namespace dg::server {

enum class error_kind {
  bad_request,        // 400: malformed or ambiguous framing
  request_timeout,    // 408: header or body not received in time
  body_too_large,     // 413
  headers_too_large,  // 431
  internal,           // 500: our bug
  upstream_failed,    // 502: refused, reset, or not HTTP
  unavailable,        // 503: shutting down
  upstream_timeout,   // 504: connect or first byte too late
};

struct error_info {
  int status;
  std::string_view type;
  std::string_view code;
};

error_info info_of(error_kind k);

// The JSON body for an error; `message` is escaped.
std::string error_body(std::string_view message, std::string_view type, std::string_view code);
inline std::string error_body(error_kind k, std::string_view message) {
  const auto i = info_of(k);
  return error_body(message, i.type, i.code);
}

}  // namespace dg::server
