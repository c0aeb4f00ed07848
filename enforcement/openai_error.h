// openai_error: error bodies in the OpenAI shape, which the official SDKs parse:
//   {"error":{"message":"...","type":"...","param":null,"code":"..."}}
#pragma once

#include <string>
#include <string_view>

namespace dg::enforcement {

// `param` empty = null; `code` empty = null.
std::string openai_error(std::string_view message, std::string_view type,
                         std::string_view param = {}, std::string_view code = {});

}  // namespace dg::enforcement
