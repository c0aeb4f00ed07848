#include "server/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/usage.h"

namespace dg::server {
namespace {

std::vector<sse_event> parse_in_pieces(std::string_view text, std::size_t piece, bool raw = false) {
  sse_parser p(raw);
  std::vector<sse_event> out;
  for (std::size_t i = 0; i < text.size(); i += piece) {
    p.feed(text.substr(i, piece), [&](sse_event& e) { out.push_back(e); });
  }
  return out;
}

TEST(sse_parser, events_split_across_any_chunking) {
  const std::string text =
      "data: {\"a\":1}\n\n"
      ": keep-alive\n\n"
      "event: delta\r\nid: 7\r\ndata: line1\r\ndata: line2\r\n\r\n"
      "data:no-space\r\r"
      "data: [DONE]\n\n"
      "data: unfinished";
  for (std::size_t piece : {1u, 2u, 3u, 7u, 1000u}) {
    const auto ev = parse_in_pieces(text, piece);
    ASSERT_EQ(ev.size(), 4u) << "piece " << piece;
    EXPECT_EQ(ev[0].data, "{\"a\":1}");
    EXPECT_EQ(ev[1].event, "delta");
    EXPECT_EQ(ev[1].id, "7");
    EXPECT_EQ(ev[1].data, "line1\nline2");
    EXPECT_EQ(ev[2].data, "no-space");
    EXPECT_EQ(ev[3].data, "[DONE]");
  }
}

TEST(sse_parser, raw_mode_reproduces_the_bytes) {
  const std::string text = "data: a\r\n\r\n: ping\n\ndata: b\n\n";
  for (std::size_t piece : {1u, 4u, 100u}) {
    std::string joined;
    for (const auto& e : parse_in_pieces(text, piece, true)) joined += e.raw;
    EXPECT_EQ(joined, text) << "piece " << piece;
  }
}

TEST(sse_parser, bom_and_fields_without_colon) {
  const auto ev = parse_in_pieces("\xEF\xBB\xBF" "data\n\ndata: x\n\n", 100);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "");
  EXPECT_TRUE(ev[0].has_data);
  EXPECT_EQ(ev[1].data, "x");
}

// A BOM split across reads is still the stream's BOM: kept in the first line,
// it would hide that line's "data" field from the relay (no watermark, no
// usage) while the client, which strips it, sees the event (fuzz: watermark,
// crash-bom-split-across-reads).
TEST(sse_parser, bom_split_across_reads_is_dropped) {
  for (std::size_t piece : {1u, 2u, 4u}) {
    const auto ev = parse_in_pieces("\xEF\xBB\xBF" "data: x\n\ndata: y\n\n", piece, true);
    ASSERT_EQ(ev.size(), 2u) << "piece " << piece;
    EXPECT_EQ(ev[0].data, "x") << "piece " << piece;
    EXPECT_EQ(ev[0].raw, "data: x\n\n") << "piece " << piece;
    EXPECT_EQ(ev[1].data, "y") << "piece " << piece;
  }
}

// Bytes that begin like a BOM but are not one are text, however they arrive.
TEST(sse_parser, partial_bom_is_text) {
  for (std::size_t piece : {1u, 2u, 100u}) {
    const auto ev = parse_in_pieces("\xEF\xBB" "data: x\n\n" "\xEF" "data: y\n\n", piece, true);
    // Each line is a field of an unknown name, so neither event has data.
    ASSERT_EQ(ev.size(), 2u) << "piece " << piece;
    EXPECT_FALSE(ev[0].has_data || ev[1].has_data) << "piece " << piece;
    EXPECT_EQ(ev[0].raw, "\xEF\xBB" "data: x\n\n") << "piece " << piece;
    EXPECT_EQ(ev[1].raw, "\xEF" "data: y\n\n") << "piece " << piece;
  }
}

TEST(sse_parser, oversized_events_are_skipped_and_counted) {
  sse_parser p(false, 64);
  std::vector<std::string> got;
  p.feed("data: " + std::string(200, 'x') + "\n\ndata: ok\n\n", [&](sse_event& e) { got.push_back(e.data); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "ok");
  EXPECT_EQ(p.oversized_events(), 1u);
  EXPECT_LT(p.pending_bytes(), 64u);
}

TEST(sse_parser, serialize_round_trips) {
  sse_event e;
  e.event = "x";
  e.data = "a\nb";
  e.has_data = true;
  const std::string wire = sse_parser::serialize(e);
  EXPECT_EQ(wire, "event: x\ndata: a\ndata: b\n\n");
  const auto back = parse_in_pieces(wire, 3);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].data, "a\nb");
}

TEST(usage, only_non_negative_integers_count) {
  token_usage u;
  ASSERT_TRUE(find_usage(R"({"usage":{"prompt_tokens":-3,"completion_tokens":2.5,"input_tokens":7,"output_tokens":99999999999}})", u));
  EXPECT_EQ(u.prompt_tokens, 7u);  // the negative chat count is not a count; the Responses one is
  EXPECT_EQ(u.completion_tokens, 0xffffffffu);
  token_usage bad;
  EXPECT_FALSE(find_usage(R"({"usage":{"prompt_tokens":1,}})", bad));  // not JSON: not read
  token_usage deep;
  EXPECT_FALSE(find_usage(R"({"usage":{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]],"prompt_tokens":1}})", deep));
}

TEST(usage, from_final_chunk_and_body) {
  token_usage u;
  EXPECT_TRUE(find_usage(R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":200,"total_tokens":212}})", u));
  EXPECT_EQ(u.prompt_tokens, 12u);
  EXPECT_EQ(u.completion_tokens, 200u);
  token_usage n;
  EXPECT_FALSE(find_usage(R"({"choices":[{"delta":{"content":"hi"}}],"usage":null})", n));
  token_usage r;
  EXPECT_TRUE(find_usage(R"({"type":"response.completed","response":{"usage":{"input_tokens":3,"output_tokens":4}}})", r));
  EXPECT_EQ(r.prompt_tokens, 3u);
  EXPECT_EQ(r.completion_tokens, 4u);
  token_usage t;
  // A tail that starts mid-body still finds the object.
  EXPECT_TRUE(find_usage(R"(ntent":"x"}}],"usage": {"prompt_tokens": 5, "completion_tokens": 6}})", t));
  EXPECT_EQ(t.completion_tokens, 6u);
  token_usage g;
  EXPECT_FALSE(find_usage("\"usage\":{\"prompt_tokens\":", g));
  // Nested details hold keys of the same names: only the top level counts,
  // and chat's names win over the Responses API's.
  token_usage d;
  EXPECT_TRUE(find_usage(
      R"({"usage":{"prompt_tokens_details":{"prompt_tokens":999,"cached_tokens":2},"input_tokens":7,)"
      R"("prompt_tokens":11,"completion_tokens_details":{"completion_tokens":888},"completion_tokens":13}})",
      d));
  EXPECT_EQ(d.prompt_tokens, 11u);
  EXPECT_EQ(d.completion_tokens, 13u);
  token_usage big;
  EXPECT_TRUE(find_usage(R"({"usage":{"prompt_tokens":99999999999,"completion_tokens":-4}})", big));
  EXPECT_EQ(big.prompt_tokens, 0xffffffffu);
  EXPECT_EQ(big.completion_tokens, 0u);
}

// The usual object is read by a plain reader, anything else by the general JSON
// reader: every case below must come out as the general reader reads it.
TEST(usage, plain_and_general_readers_agree) {
  struct want {
    const char* body;
    bool found;
    std::uint32_t prompt, completion;
  };
  const want cases[] = {
      // Plain: the shape upstreams write, with spaces and line breaks, nested details.
      {R"({"usage":{"prompt_tokens":3,"completion_tokens":160,"total_tokens":163,"prompt_tokens_details":{"cached_tokens":0}}})", true, 3, 160},
      {"{\"usage\" :\n {\n  \"prompt_tokens\" : 0 ,\r\n\t\"completion_tokens\":7 }\n}", true, 0, 7},
      {R"({"usage":{}})", false, 0, 0},
      {R"({"usage":{"total_tokens":5}})", false, 0, 0},
      {R"({"usage":{"prompt_tokens":9999999999999999999,"completion_tokens":1}})", true, 0xffffffffu, 1},
      // Duplicates: the first of a name stands, as in the general reader.
      {R"({"usage":{"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":3}})", true, 1, 3},
      // General: an escape in a key is read as the name it spells.
      {R"({"usage":{"prompt_tokens":4,"completion_tokens":5}})", true, 4, 5},
      // General: 20 digits (beyond 64 bits: a float, not a count), an exponent, a fraction.
      {R"({"usage":{"prompt_tokens":99999999999999999999,"completion_tokens":2}})", true, 0, 2},
      {R"({"usage":{"prompt_tokens":1e2,"completion_tokens":2.0,"input_tokens":6}})", true, 6, 0},
      // General: arrays, literals and strings among the values.
      {R"({"usage":{"x":[1,{"prompt_tokens":5}],"y":null,"z":true,"w":"s","prompt_tokens":8,"completion_tokens":9}})", true, 8, 9},
      // Not JSON: a leading zero, a trailing comma, a missing value; nothing is read.
      {R"({"usage":{"prompt_tokens":01,"completion_tokens":2}})", false, 0, 0},
      {R"({"usage":{"prompt_tokens":1,"completion_tokens":2,}})", false, 0, 0},
      {R"({"usage":{"prompt_tokens":,"completion_tokens":2}})", false, 0, 0},
      // A non-ASCII key is plain JSON the general reader takes.
      {"{\"usage\":{\"pr\xC3\xA9\":1,\"completion_tokens\":2}}", true, 0, 2},
      // A usage object that is not JSON falls back to an earlier one that is.
      {R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"x":{"usage":{"prompt_tokens":}}})", true, 1, 2},
      // The key's letters elsewhere ("usage" in a text, "usages") are not the key.
      {R"({"choices":[{"text":"the "usage" of words, usages"}],"usage":{"prompt_tokens":4,"completion_tokens":5}})", true, 4, 5},
      {R"({"choices":[{"text":""usage": {"prompt_tokens": 1}"}]})", true, 1, 0},
  };
  // Nesting: usage and 14 objects in it are read (the plain reader's limit, 15
  // levels), 16 by the general reader, 17 are refused.
  std::vector<std::string> nested;
  for (int levels : {14, 15, 16}) {
    std::string inner = "1";
    for (int l = 0; l < levels; ++l) inner = R"({"k":)" + inner + "}";
    nested.push_back(R"({"usage":{"a":)" + inner + R"(,"prompt_tokens":2,"completion_tokens":3}})");
  }
  std::vector<want> all(std::begin(cases), std::end(cases));
  all.push_back({nested[0].c_str(), true, 2, 3});
  all.push_back({nested[1].c_str(), true, 2, 3});
  all.push_back({nested[2].c_str(), false, 0, 0});
  for (const auto& c : all) {
    token_usage u;
    EXPECT_EQ(find_usage(c.body, u), c.found) << c.body;
    if (!c.found) continue;
    EXPECT_EQ(u.prompt_tokens, c.prompt) << c.body;
    EXPECT_EQ(u.completion_tokens, c.completion) << c.body;
  }
}

}  // namespace
}  // namespace dg::server
