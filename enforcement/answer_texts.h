// answer_texts: where the model's text sits in a JSON (non-streamed) answer:
// chat choices[].message.content (a string or text parts), completions
// choices[].text, and Responses output[].content. Found in one strict pass
// (common/json_sax.h) with each string's exact place in the body, so the
// watermark rewrites only those strings and copies everything else as it came,
// instead of parsing the whole answer into a tree and writing it out again.
// Thread safety: pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dg::enforcement {

struct answer_text {
  std::size_t begin = 0, end = 0;  // the JSON string token, quotes included
  std::string text;                // its decoded value
};

// Fills `out` in body order. Returns false when the body is not for this path (not a JSON
// object, nested deeper than max_depth, or a duplicate key among those read, which a tree keeps
// only once): the caller then takes the parse-everything path.
bool find_answer_texts(std::string_view body, int max_depth, std::vector<answer_text>& out);

// find_answer_texts() of the usual chat.completion or completion body (max_depth 128), in one
// pass of a scanner made for that shape, several times cheaper. Returns false, and leaves the
// body to find_answer_texts(), for anything else: text parts, a Responses "output", a duplicate
// key among those read, a number with a fraction or an exponent, a key with an escape, a
// byte-order mark, deep nesting. Defined beside the scanner of chunk events it shares
// (watermark_rewriter.cpp).
bool find_completion_texts(std::string_view body, std::vector<answer_text>& out);

}  // namespace dg::enforcement
