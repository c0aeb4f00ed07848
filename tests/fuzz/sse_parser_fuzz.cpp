// Fuzz target: the SSE parser (server/sse_parser) that splits an upstream's
// text/event-stream into events, and the usage reader the relay runs on each
// event's data (server/usage). The upstream is trusted more than a client,
// but a broken or hostile one must not crash the gateway.
//
// Oracles beyond "no crash":
//   - chunking does not matter: the stream fed whole and fed in reads of the
//     size the first byte chooses yields the same events (the relay sees
//     whatever TCP segments it gets);
//   - serialize() round-trips: an event written back and parsed again is the
//     same event (the watermark relay re-serialises rewritten events);
//   - memory stays bounded by max_event_bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/sse_parser.h"
#include "server/usage.h"

namespace {

using dg::server::sse_event;
using dg::server::sse_parser;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

constexpr std::size_t max_event = 4096;  // small, so the oversized path is reached

struct seen {
  std::string event, data, id, raw;
  bool has_data;
  bool operator==(const seen&) const = default;
};

std::vector<seen> parse(std::string_view input, std::size_t chunk, bool keep_raw, std::uint64_t& oversized) {
  sse_parser p(keep_raw, max_event);
  std::vector<seen> out;
  const auto on_event = [&](sse_event& e) {
    out.push_back({e.event, e.data, e.id, e.raw, e.has_data});
    dg::server::token_usage usage;
    if (e.has_data) dg::server::find_usage(e.data, usage);
  };
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    p.feed(input.substr(pos, chunk), on_event);
    // Pending bytes may exceed the limit by at most one read before it is noticed.
    if (p.pending_bytes() > max_event + chunk) finding("the parser holds more than max_event_bytes");
  }
  oversized = p.oversized_events();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = std::size_t{1} << (data[0] % 12);
  const bool keep_raw = (data[0] & 0x80) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::uint64_t over_whole = 0, over_chunked = 0;
  const auto whole = parse(input, input.size() + 1, keep_raw, over_whole);
  const auto chunked = parse(input, chunk, keep_raw, over_chunked);
  // Whether an event is "oversized" is checked per line or per read, so it may
  // depend on the reads; compare only streams with no oversized event.
  //   - The fields must match event by event.
  //   - The raw bytes are what the watermark relay writes back for events it
  //     leaves alone. They need not be byte-identical to the input (blank lines
  //     that dispatch nothing are dropped, and the LF of a CRLF split across
  //     reads travels with the next event), but written out they must parse
  //     back to the same events.
  if (over_whole == 0 && over_chunked == 0) {
    bool same = whole.size() == chunked.size();
    for (std::size_t i = 0; same && i < whole.size(); ++i) {
      same = whole[i].event == chunked[i].event && whole[i].data == chunked[i].data &&
             whole[i].id == chunked[i].id && whole[i].has_data == chunked[i].has_data;
    }
    if (!same) finding("the events depend on how the stream was split into reads");
    if (keep_raw && same) {
      std::string relayed;
      for (const auto& e : chunked) relayed += e.raw;
      std::uint64_t over = 0;
      const auto again = parse(relayed, relayed.size() + 1, false, over);
      std::vector<seen> want;
      for (const auto& e : whole) {
        if (e.has_data) want.push_back({e.event, e.data, e.id, "", true});
      }
      bool ok = again.size() == want.size();
      for (std::size_t i = 0; ok && i < want.size(); ++i) {
        ok = again[i].event == want[i].event && again[i].data == want[i].data && again[i].id == want[i].id;
      }
      // A BOM in the relayed bytes would be stripped again; only the stream's start has one.
      if (!ok && over == 0) finding("the raw bytes of the events do not parse back to the same events");
    }
  }

  for (const auto& e : whole) {
    if (!e.has_data) continue;
    sse_event ev;
    ev.event = e.event;
    ev.data = e.data;
    ev.id = e.id;
    ev.has_data = true;
    const std::string wire = sse_parser::serialize(ev);
    std::uint64_t over = 0;
    const auto again = parse(wire, wire.size() + 1, false, over);
    if (over == 0) {
      if (again.size() != 1) finding("a serialised event does not parse back as one event");
      if (again[0].data != e.data || again[0].event != e.event || again[0].id != e.id) {
        finding("a serialised event parses back different");
      }
    }
  }
  return 0;
}
