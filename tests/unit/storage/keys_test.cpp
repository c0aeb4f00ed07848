#include "storage/keys.h"

#include <gtest/gtest.h>

namespace dg::storage {
namespace {

TEST(keys, event_key_orders_by_client_then_time_then_sequence) {
  EXPECT_LT(event_key("a", 5, 0), event_key("a", 6, 0));
  EXPECT_LT(event_key("a", -5, 0), event_key("a", 3, 0));  // negative times sort first
  EXPECT_LT(event_key("a", 5, 1), event_key("a", 5, 2));
  EXPECT_LT(event_key("a", 9999, 0), event_key("b", 0, 0));
  // A client id that is a prefix of another never interleaves with it.
  const std::string ab = event_key("ab", 0, 0);
  EXPECT_FALSE(ab.starts_with(client_prefix("a")));
}

TEST(keys, event_key_round_trips) {
  const auto k = event_key("client-1", -123456789, 42);
  const auto p = parse_event_key(k);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->client_id, "client-1");
  EXPECT_EQ(p->ts, -123456789);
  EXPECT_EQ(p->seq, 42u);
  EXPECT_FALSE(parse_event_key(""));
  EXPECT_FALSE(parse_event_key(k.substr(0, k.size() - 1)));
}

TEST(keys, time_key_round_trips_and_orders) {
  EXPECT_LT(time_key(INT64_MIN, 0), time_key(-1, 0));
  EXPECT_LT(time_key(-1, 0), time_key(0, 0));
  EXPECT_LT(time_key(0, 5), time_key(1, 0));
  EXPECT_EQ(*parse_time_key(time_key(1793577600250000, 7)), 1793577600250000);
  EXPECT_FALSE(parse_time_key("short"));
}

}  // namespace
}  // namespace dg::storage
