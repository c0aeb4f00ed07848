#include "server/admin_json.h"

#include <gtest/gtest.h>

namespace dg::server {
namespace {

TEST(admin_json, time_round_trip) {
  EXPECT_TRUE(time_json(0).is_null());
  EXPECT_EQ(time_json(1'793'577'600'250'000), "2026-11-02T00:00:00.250Z");
  micros t = 0;
  ASSERT_TRUE(parse_time("2026-11-02T00:00:00.250Z", t));
  EXPECT_EQ(t, 1'793'577'600'250'000);
  ASSERT_TRUE(parse_time("2026-11-02T02:00:00+02:00", t));
  EXPECT_EQ(t, 1'793'577'600'000'000);
  ASSERT_TRUE(parse_time("2026-11-01T19:30:00-04:30", t));
  EXPECT_EQ(t, 1'793'577'600'000'000);
  ASSERT_TRUE(parse_time("1793577600.5", t));
  EXPECT_EQ(t, 1'793'577'600'500'000);
  ASSERT_TRUE(parse_time("2000-02-29T12:00:00Z", t));
  EXPECT_EQ(t, 951'825'600'000'000);
  ASSERT_TRUE(parse_time("1970-01-01T00:00:00Z", t));
  EXPECT_EQ(t, 0);
}

TEST(admin_json, bad_times_are_refused) {
  micros t = 0;
  for (std::string_view s : {"", "now", "2026-11-02", "2026-11-02T00:00:00", "2026-13-01T00:00:00Z",
                             "2026-11-02T25:00:00Z", "2026-11-02T00:00:00.Z", "2026-11-02T00:00:00+2",
                             "2026-11-02T00:00:00Zjunk", "1.2.3", "-5"}) {
    EXPECT_FALSE(parse_time(s, t)) << s;
  }
}

TEST(admin_json, event_keeps_prompt_as_stored_only) {
  pb::QueryEvent e;
  e.set_prompt_text_mode(pb::PROMPT_TEXT_HASH);
  e.set_prompt_text_hash(std::string(32, '\xab'));
  auto j = event_json(e);
  EXPECT_FALSE(j.contains("prompt"));
  EXPECT_EQ(j["prompt_text_mode"], "hash");
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(j["prompt_sha256"], hex);
  e.set_prompt_text_mode(pb::PROMPT_TEXT_PREFIX);
  e.set_prompt_text("Explain step by step");
  EXPECT_EQ(event_json(e)["prompt"], "Explain step by step");
}

TEST(admin_json, summary_caps_reasons) {
  detectors::client_report r;
  r.client_id = "x";
  r.reasons = {"a", "b", "c", "d"};
  EXPECT_EQ(client_summary_json(r)["top_reasons"].size(), 3u);
  EXPECT_EQ(client_report_json(r)["reasons"].size(), 4u);
  EXPECT_TRUE(client_summary_json(r)["cluster"].is_null());
}

}  // namespace
}  // namespace dg::server
