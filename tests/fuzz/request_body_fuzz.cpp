// Fuzz target: the JSON body of a client's request, through every reader of
// it: the analyzer's parse_request_body and feature extraction (off the
// request path, but the body is the attacker's), and the request shaper of
// phase 4 (on the request path, where an escaping exception would take down
// the request: no exceptions allowed out of it).
//
// Oracles beyond "no crash":
//   - the one-pass body reader and the tree reader (replay's) accept the same
//     bodies and fill the same event;
//   - the QueryEvent the parser filled serialises and parses back (storage
//     writes it as protobuf; an invalid UTF-8 string field would make the
//     stored event unreadable);
//   - a body the shaper rewrote is valid JSON, and shaping it again changes
//     nothing (the rules are idempotent).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "detectors/features.h"
#include "detectors/request_parser.h"
#include "enforcement/request_shaper.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

dg::enforcement::shape_options strict_options() {
  dg::enforcement::shape_options o;
  o.refuse_logit_bias_with_logprobs = true;
  o.invalid_json = "refuse";
  return o;
}

void shape_with(const dg::enforcement::request_shaper& shaper, const dg::enforcement::shape_level* rules,
                std::string_view input) {
  std::string body(input);
  const auto out = shaper.shape(body, rules, /*add_include_usage=*/true);
  if (out.refuse) {
    if (out.status != 400 || !nlohmann::json::accept(out.body)) finding("a refusal is not a 400 with a JSON body");
    return;
  }
  if (!out.changed) {
    if (body != input) finding("the shaper changed the body but said it did not");
    return;
  }
  if (!nlohmann::json::accept(body)) finding("the shaper produced invalid JSON");
  std::string again = body;
  const auto second = shaper.shape(again, rules, true);
  if (second.refuse || second.changed || again != body) finding("shaping is not idempotent");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  // The analyzer: parse, then features.
  static dg::detectors::feature_extractor extractor(0x5eed);
  dg::pb::QueryEvent ev;
  const auto st = dg::detectors::parse_request_body(body, ev);
  // The one-pass reader fills what the tree reader (replay's) fills, and refuses the same bodies.
  {
    dg::pb::QueryEvent tree_ev;
    tree_ev.set_request_bytes(body.size());
    bool tree_ok = false;
    if (dg::detectors::json_depth(body, 64) <= 64) {
      auto j = nlohmann::json::parse(body, nullptr, false);
      tree_ok = !j.is_discarded() && dg::detectors::parse_request_json(j, tree_ev).is_ok();
    }
    if (tree_ok != st.is_ok()) finding("the one-pass and tree readers disagree on accepting a body");
    if (tree_ok && tree_ev.SerializeAsString() != ev.SerializeAsString()) {
      finding("the one-pass and tree readers fill different events");
    }
  }
  extractor.ensure(ev);
  std::string wire;
  if (!ev.SerializeToString(&wire)) finding("a parsed QueryEvent does not serialise");
  dg::pb::QueryEvent back;
  if (!back.ParseFromString(wire)) finding("a parsed QueryEvent does not parse back (invalid UTF-8 in a string field?)");

  // Phase 4, with the default and the strict options, at watermark and throttle.
  static const dg::enforcement::shape_options defaults;
  static const dg::enforcement::request_shaper lenient(defaults);
  static const dg::enforcement::request_shaper strict(strict_options());
  shape_with(lenient, nullptr, body);
  shape_with(lenient, lenient.rules_for(dg::enforcement::verdict::throttle), body);
  shape_with(strict, strict.rules_for(dg::enforcement::verdict::watermark), body);
  return 0;
}
