// Fuzz target: the watermark's response_rewriter (enforcement/watermark_rewriter)
// on what an upstream sends back, driven as server/session.cpp drives it:
//   mode 0: a whole JSON body (send_rewritten_json);
//   mode 1: an SSE stream through the real sse_parser in keep_raw mode, each
//           event's data rewritten and flush_sse()'s events sent before it,
//           flush_sse() once more at the end (session::rewrite_sse), in reads
//           of a size the input chooses.
//
// Oracles beyond "no crash":
//   - JSON in, JSON out: a body or event that was valid JSON stays valid JSON
//     (the rewriter must never break a client's parser); non-JSON passes
//     through unchanged;
//   - the rewritten stream is itself a well-formed event stream: every event
//     of it parses, its data is JSON when the input's was, and [DONE] stays last;
//   - the in-place rewrite of chat.completion.chunk events equals the full
//     parse: a second rewriter with the fast path off sees the same events and
//     must give the same JSON value for each, and the same flushed events;
//   - the input read as an answer's text, whole and in deltas, is marked alike
//     by the text marker and by main's scanner before its fast path (watermark_reference_v8.h).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "enforcement/watermark_key.h"
#include "enforcement/watermark_rewriter.h"
#include "enforcement/watermark_synonyms.h"
#include "server/sse_parser.h"
#include "tests/unit/enforcement/watermark_reference_v8.h"

namespace {

using dg::server::sse_event;
using dg::server::sse_parser;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

dg::enforcement::watermark_rewriter make_rewriter() {
  static const auto table = dg::enforcement::synonym_table::builtin();
  static const auto key = dg::enforcement::derive_mark_key("fuzz-watermark-secret", "0123456789abcdef", 1);
  return dg::enforcement::watermark_rewriter(table, key);
}

void json_body(std::string_view body) {
  auto rw = make_rewriter();
  const std::string out = rw.rewrite_json_body(body);
  if (nlohmann::json::accept(body)) {
    if (!nlohmann::json::accept(out)) finding("a JSON body became invalid JSON");
  } else if (out != body) {
    finding("a body that is not JSON was changed");
  }
}

void sse_stream(std::string_view input, std::size_t chunk) {
  auto rw = make_rewriter();
  auto slow = make_rewriter();
  slow.set_fast_path(false);
  sse_parser parser(/*keep_raw=*/true);
  std::string out;
  bool input_json_data = true;  // every data event of the input was JSON or [DONE]
  bool input_done_last = true;   // no data event follows the input's first [DONE]
  bool seen_done = false;
  const auto on_event = [&](sse_event& e) {
    if (!e.has_data) {
      out.append(e.raw);
      return;
    }
    if (seen_done) input_done_last = false;
    if (e.data == "[DONE]") seen_done = true;
    if (!nlohmann::json::accept(e.data) && e.data != "[DONE]") input_json_data = false;
    // As session::rewrite_sse: every data event (data: [DONE] too) goes
    // through the rewriter, and what flush_sse() returns goes before it.
    std::string data = rw.rewrite_sse_data(e.data);
    const std::string slow_data = slow.rewrite_sse_data(e.data);
    const std::string flushed = rw.flush_sse();
    if (flushed != slow.flush_sse()) finding("the in-place rewrite flushed other events than the full parse");
    if (data != slow_data) {
      const auto a = nlohmann::json::parse(data, nullptr, false), b = nlohmann::json::parse(slow_data, nullptr, false);
      if (a.is_discarded() || b.is_discarded() || a != b) finding("the in-place rewrite differs from the full parse");
    }
    out.append(flushed);
    if (data == e.data) {
      out.append(e.raw);
    } else {
      if (nlohmann::json::accept(e.data) && !nlohmann::json::accept(data)) {
        finding("an SSE event's JSON data became invalid JSON");
      }
      e.data = std::move(data);
      out.append(sse_parser::serialize(e));
    }
  };
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) parser.feed(input.substr(pos, chunk), on_event);
  const std::string tail = rw.flush_sse();  // the end of the stream
  if (tail != slow.flush_sse()) finding("the in-place rewrite flushed another tail than the full parse");
  out.append(tail);

  // What the client receives must parse, event by event.
  sse_parser client(false, std::size_t{64} << 20);
  bool after_done = false;
  client.feed(out, [&](sse_event& e) {
    if (!e.has_data) return;
    if (after_done && input_json_data && input_done_last) finding("an event follows [DONE] in the rewritten stream");
    if (e.data == "[DONE]") {
      after_done = true;
      return;
    }
    if (input_json_data && !nlohmann::json::accept(e.data)) finding("the rewritten stream carries non-JSON data");
  });
}

// The fast scanner against the reference: output and counters, whole and in deltas of `chunk` bytes.
void text_oracle(std::string_view text, std::size_t chunk) {
  // Table v7, the table of the reference's features (v8 reads more phrases than it knows).
  static const auto table = [] {
    auto t = std::make_shared<dg::enforcement::synonym_table>();
    if (!dg::enforcement::synonym_table::load_file(
             std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms-v7.tsv", *t))
      finding("cannot load table v7");
    return std::shared_ptr<const dg::enforcement::synonym_table>(std::move(t));
  }();
  static const auto key = dg::enforcement::derive_mark_key("fuzz-watermark-secret", "0123456789abcdef", 1);
  dg::enforcement::text_marker fast(*table, key);
  dg::enforcement::reference_v8::text_marker ref(*table, key);
  if (fast.mark(text) != ref.mark(text)) finding("the text marker and the reference marked a text differently");
  if (fast.scanner().words() != ref.scanner().words() ||
      fast.scanner().eligible() != ref.scanner().eligible() ||
      fast.scanner().changed() != ref.scanner().changed() ||
      fast.scanner().stops_changed() != ref.scanner().stops_changed() ||
      fast.scanner().commas_changed() != ref.scanner().commas_changed())
    finding("the text marker and the reference counted a text differently");
  dg::enforcement::text_marker fs(*table, key);
  dg::enforcement::reference_v8::text_marker rs(*table, key);
  for (std::size_t pos = 0; pos < text.size(); pos += chunk)
    if (fs.feed(text.substr(pos, chunk)) != rs.feed(text.substr(pos, chunk)))
      finding("the text marker and the reference marked a delta differently");
  if (fs.finish() != rs.finish()) finding("the text marker and the reference released another tail");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    json_body(input);
  } else {
    sse_stream(input, std::size_t{1} << ((data[0] >> 1) % 12));
  }
  text_oracle(input, std::size_t{1} << ((data[0] >> 1) % 6));
  return 0;
}
