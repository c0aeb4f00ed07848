#include "storage/event_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "proto/query_event.pb.h"

namespace dg::storage {
namespace {

namespace pb = ::distillguard::pb;

TEST(event_queue, refuses_when_full_and_keeps_order) {
  event_queue<pb::QueryEvent> q(5);
  EXPECT_EQ(q.capacity(), 8u);
  for (int i = 0; i < 8; ++i) {
    pb::QueryEvent e;
    e.set_ts_micros(i);
    ASSERT_TRUE(q.try_push(e));
  }
  pb::QueryEvent extra;
  extra.set_ts_micros(99);
  EXPECT_FALSE(q.try_push(extra));
  EXPECT_EQ(extra.ts_micros(), 99);  // untouched when refused
  EXPECT_EQ(q.size_approx(), 8u);
  pb::QueryEvent out;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(out.ts_micros(), i);
  }
  EXPECT_FALSE(q.try_pop(out));
}

TEST(event_queue, many_producers_lose_nothing_that_was_accepted) {
  event_queue<pb::QueryEvent> q(1024);
  constexpr int producers = 4, per = 20000;
  std::atomic<long> accepted{0};
  std::atomic<bool> done{false};
  long popped = 0, sum = 0;
  std::thread consumer([&] {
    pb::QueryEvent e;
    for (;;) {
      if (q.try_pop(e)) {
        ++popped;
        sum += e.ts_micros();
      } else if (done.load()) {
        if (!q.try_pop(e)) break;
        ++popped;
        sum += e.ts_micros();
      }
    }
  });
  std::vector<std::thread> ts;
  std::atomic<long> accepted_sum{0};
  for (int p = 0; p < producers; ++p) {
    ts.emplace_back([&] {
      for (int i = 1; i <= per; ++i) {
        pb::QueryEvent e;
        e.set_ts_micros(i);
        if (q.try_push(e)) {
          accepted.fetch_add(1);
          accepted_sum.fetch_add(i);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  done.store(true);
  consumer.join();
  EXPECT_EQ(popped, accepted.load());
  EXPECT_EQ(sum, accepted_sum.load());
}

}  // namespace
}  // namespace dg::storage
