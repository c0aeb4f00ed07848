// admin_config_json: the effective config (defaults included) as JSON, for
// GET /admin/config. Secrets never appear: files holding secrets (identity
// secret, admin token, TLS key) are shown by path only, their contents are
// never read here, and credentials listed in the policy's allow/deny lists are
// shown as hints ("sk-...abcd").
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/config.h"

namespace dg::server {

nlohmann::json effective_config_json(const gateway_config& c);

// "sk-proj-abcdef...wxyz" -> "sk-...wxyz"; short values become "...". Used
// for anything that may be a credential.
std::string redact_credential(std::string_view value);

}  // namespace dg::server
