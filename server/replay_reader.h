// replay_reader: the input side of `distillguard replay`. A line_reader reads a
// traffic log (DESIGN.md, "Traffic log") line by line from a file or standard
// input, plain or gzip; event_from_record turns one parsed line into the
// QueryEvent the live gateway would have recorded for that request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "proto/query_event.pb.h"
#include "server/identity.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::server {

// Reads lines from a file ("-" = standard input). Gzip is recognised by its
// magic bytes (zlib's gz* layer reads both gzip, including concatenated
// members, and plain bytes), so `.gz` in the name is neither needed nor trusted.
// Thread safety: none; one reader per thread.
class line_reader {
 public:
  // A line longer than this is skipped and reported as a bad line rather than
  // held in memory whole.
  static constexpr std::size_t max_line_bytes = 64u << 20;

  enum class result { line, too_long, end, error };

  // Opens `path`; on failure returns null and sets `st`.
  static std::unique_ptr<line_reader> open(const std::string& path, status& st);
  ~line_reader();
  line_reader(const line_reader&) = delete;
  line_reader& operator=(const line_reader&) = delete;

  // The next line without its '\n' (or "\r\n"). `line_number()` is then its
  // 1-based number. On result::error, error() says why.
  result next(std::string& line);

  std::uint64_t line_number() const { return line_number_; }
  bool compressed() const;
  // Bytes consumed from the underlying file (compressed bytes for gzip) and the
  // file's size (0 when unknown: a pipe). For the progress bar.
  std::uint64_t bytes_consumed() const;
  std::uint64_t total_bytes() const { return total_bytes_; }
  const status& error() const { return error_; }

 private:
  line_reader() = default;
  bool fill();  // reads another chunk; false at end of input or on error

  void* file_ = nullptr;  // gzFile, kept out of the header
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
  std::uint64_t line_number_ = 0;
  std::uint64_t total_bytes_ = 0;
  status error_;
};

// How a record is turned into an event.
struct record_options {
  // Computes client ids as the live gateway does (HMAC-SHA256 under the
  // identity secret of kind + ":" + credential). Built from the configured
  // secret, a replay names clients exactly as the gateway did. Required.
  const identity_resolver* identity = nullptr;
  // How a "client" credential was sent when the record does not say
  // ("credential_kind": "bearer" | "api_key" | "header"): the OpenAI SDKs send
  // Authorization: Bearer.
  credential_kind default_kind = credential_kind::bearer;
};

// Maps one traffic-log record (a parsed JSON object) to `ev` and gives the
// client's name as the input spelled it ("client", else "ip") in `client`.
// Besides the fields of DESIGN.md a record may say how its credential was sent
// ("credential_kind"), since the gateway's client id depends on it.
// A record carrying "x_distillguard" (the stored QueryEvent as protobuf JSON,
// written by `distillguard export`) is used as is, so that export then replay
// feeds the engine exactly what the live gateway fed it. Otherwise the request
// fields come from the detectors' request parser, and the response status and
// usage from "response".
//
// Returns an error for a record that cannot be replayed (no "ts", no "request",
// nothing identifying the client, wrong types). `request_warning` is set when
// the request body was replayed but the parser refused part of it (the live
// gateway records such requests too).
status event_from_record(const nlohmann::json& record, const record_options& options,
                         pb::QueryEvent& ev, std::string& client, std::string& request_warning);

// The same from the line's text, read in one pass without a tree (what replay runs; the tree
// form above is the definition it is tested against). `exported` says the line carried
// "x_distillguard". A line that is not JSON is an error that says so ("not JSON: ...").
status event_from_line(std::string_view line, const record_options& options, pb::QueryEvent& ev,
                       std::string& client, std::string& request_warning, bool& exported);

}  // namespace dg::server
