// admin_token: the bearer token that guards every /admin/* route, read once
// from admin.token_file, and the check of a presented Authorization header.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace dg::server {

// Reads the token from `path`: the file's content without surrounding
// whitespace. Refuses (invalid_argument, with a message an operator can act
// on) a file that is readable or writable by everyone, that is not a regular
// file, or that holds an empty token or one shorter than 16 characters.
status load_admin_token(const std::string& path, std::string& token);

// True if `authorization` is "Bearer <token>" (scheme case-insensitive) and
// the token equals `expected`, compared in constant time (dg::constant_time_equal).
bool bearer_matches(std::string_view authorization, std::string_view expected);

// The token part of "Bearer <token>", or empty when the header is absent or
// carries another scheme.
std::string_view bearer_token(std::string_view authorization);

}  // namespace dg::server
