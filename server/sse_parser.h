// sse_parser: an incremental parser of text/event-stream (the WHATWG
// "server-sent events" format) that splits a byte stream, arriving in chunks
// of any size, into events. The relay uses it to find `usage` in the final
// chunk of a streamed completion and, for watermarked clients, to rewrite
// each event's data.
//
// Lines end in LF, CRLF or CR (a CR at the end of one chunk and an LF at the
// start of the next are one line end). A blank line dispatches the event;
// lines starting with ':' are comments; one leading UTF-8 BOM is dropped
// (however the reads split it); "data" lines are joined with LF; an
// incomplete event at the end of the stream is not dispatched. Memory is
// bounded: an event longer than max_event_bytes is skipped (and counted).
//
// Not thread safe: one parser per response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace dg::server {

struct sse_event {
  std::string event;  // the "event:" field, empty for the default "message"
  std::string data;   // "data:" lines joined by LF
  std::string id;
  std::string raw;    // the event's bytes as received, blank line included (keep_raw only)
  bool has_data = false;
};

class sse_parser {
 public:
  using handler = std::function<void(sse_event&)>;

  explicit sse_parser(bool keep_raw = false, std::size_t max_event_bytes = 1 << 20)
      : keep_raw_(keep_raw), max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`, calling `on_event` for every event completed in them.
  // Comment-only blocks are dispatched too (has_data false) when keep_raw is
  // on, so that a rewriting relay can pass keep-alive comments through.
  void feed(std::string_view bytes, const handler& on_event);

  // Bytes of an unfinished event held in the parser.
  std::size_t pending_bytes() const { return line_.size() + cur_.raw.size() + cur_.data.size(); }
  std::uint64_t oversized_events() const { return oversized_; }

  // Serialises an event back to the wire format ("event: x\ndata: ...\n\n").
  static std::string serialize(const sse_event& e);

 private:
  // feed() after the BOM.
  void feed_lines(std::string_view bytes, const handler& on_event);
  void on_line(std::string_view line, const handler& on_event);
  void dispatch(const handler& on_event);

  bool keep_raw_;
  std::size_t max_event_bytes_;
  std::string line_;          // a partial line carried across chunks
  sse_event cur_;
  bool seen_any_ = false;     // any field or comment in the current block
  bool skipping_ = false;     // inside an oversized event: drop until the blank line
  bool after_cr_ = false;     // the last chunk ended in CR
  bool at_start_ = true;      // the stream may still open with a BOM
  std::size_t bom_held_ = 0;  // bytes of a BOM seen so far (at_start_ only)
  std::uint64_t oversized_ = 0;
};

}  // namespace dg::server
