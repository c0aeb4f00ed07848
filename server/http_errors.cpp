#include "server/http_errors.h"

#include <nlohmann/json.hpp>

namespace dg::server {

error_info info_of(error_kind k) {
  switch (k) {
    case error_kind::bad_request: return {400, "invalid_request_error", "bad_request"};
    case error_kind::request_timeout: return {408, "invalid_request_error", "request_timeout"};
    case error_kind::body_too_large: return {413, "invalid_request_error", "request_too_large"};
    case error_kind::headers_too_large:
      return {431, "invalid_request_error", "request_headers_too_large"};
    case error_kind::internal: return {500, "server_error", "internal_error"};
    case error_kind::upstream_failed: return {502, "upstream_error", "bad_gateway"};
    case error_kind::unavailable: return {503, "server_error", "shutting_down"};
    case error_kind::upstream_timeout: return {504, "upstream_error", "gateway_timeout"};
  }
  return {500, "server_error", "internal_error"};
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  nlohmann::json j = {{"error",
                       {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dg::server
