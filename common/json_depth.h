// json_depth: how deeply a JSON text nests, found without parsing it, so that
// a body too deep for a recursive parser (nlohmann's) is turned away before
// one is built. Used by the request shaper, the watermark rewriter and the
// tree reader of request bodies (replay's and the fuzz oracle's).
//
// It reads the text as nlohmann's lexer does: nothing after a NUL byte is
// read (outside a string a NUL ends the text, inside one it is an error), so
// "{...}\0[[[[..." is as deep as its first value. (It counted the brackets
// past the NUL, so the shaper refused as "too deep", or passed unshaped, a
// body the analyzer's one-pass reader accepted; fuzz: request_body,
// crash-deep-after-nul.)
#pragma once

#include <string_view>

namespace dg {

// Deepest nesting of [ and { outside strings; stops counting past `limit`
// (then returns limit + 1). Escapes inside strings are skipped correctly.
inline int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (c == '\0') break;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

}  // namespace dg
