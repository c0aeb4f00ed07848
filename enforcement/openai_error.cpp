#include "enforcement/openai_error.h"

#include <nlohmann/json.hpp>

namespace dg::enforcement {

std::string openai_error(std::string_view message, std::string_view type, std::string_view param,
                         std::string_view code) {
  nlohmann::ordered_json e;
  e["message"] = std::string(message);
  e["type"] = std::string(type);
  e["param"] = param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(std::string(param));
  e["code"] = code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(std::string(code));
  nlohmann::ordered_json out;
  out["error"] = std::move(e);
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dg::enforcement
