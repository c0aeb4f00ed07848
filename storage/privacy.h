// privacy: what of a prompt reaches the disk. The analyzer calls
// apply_prompt_privacy() on each event before event_store::append().
//
//   hash    prompt_text and system_prompt are cleared; only the hashes remain
//   prefix  the first prompt_prefix_chars characters (code points, never a
//           split UTF-8 sequence) of each
//   full    both kept whole
//
// prompt_text_hash (SHA-256 of the full prompt text) is set in every mode, so
// exact repeats stay visible. system_prompt_hash is the caller's (the
// detectors' hash); it is never touched here. Raw credentials never reach an
// event at all: the request path stores only the HMAC client id and a hint.
//
// Pure functions; thread safe.
#pragma once

#include <string>
#include <string_view>

#include "proto/query_event.pb.h"
#include "storage/storage_options.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::storage {

// Idempotent: applying it twice keeps what applying it once kept (the hash is
// computed only when the event has none yet).
void apply_prompt_privacy(pb::QueryEvent& e, const storage_options& options);

// The first `max_chars` code points of `s`, cut only at a character boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t max_chars);

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
bool is_valid_utf8(std::string_view s);
// `s` with every ill-formed sequence replaced by U+FFFD.
std::string make_valid_utf8(std::string_view s);
// Makes every string field of the event valid UTF-8. proto3 refuses to parse a
// string field that is not, and a user agent is whatever bytes a client sent.
void sanitize_utf8(pb::QueryEvent& e);

}  // namespace dg::storage
