#include "storage/time_index.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <map>

#include "storage/keys.h"

namespace dg::storage {
namespace {

constexpr micros sec = time_bucket_micros;

encoded_event ev(const std::string& client, micros ts, std::uint64_t seq) {
  encoded_event e;
  e.ts = ts;
  e.seq = seq;
  assign_event_key(e.key, client, ts, seq);
  return e;
}

// The Puts of a WriteBatch, in the order made.
struct collect : rocksdb::WriteBatch::Handler {
  std::vector<std::pair<std::string, std::string>> puts;
  rocksdb::Status PutCF(std::uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    puts.emplace_back(k.ToString(), v.ToString());
    return rocksdb::Status::OK();
  }
};

std::vector<micros> times_of(const std::vector<std::string>& keys) {
  std::vector<micros> out;
  for (const auto& k : keys) out.push_back(parse_event_key(k)->ts);
  return out;
}

TEST(time_index, buckets_round_down_to_whole_seconds) {
  EXPECT_EQ(time_bucket_start(5 * sec + 7), 5 * sec);
  EXPECT_EQ(time_bucket_start(5 * sec), 5 * sec);
  EXPECT_EQ(time_bucket_start(-1), -sec);
  EXPECT_EQ(time_bucket_start(INT64_MIN), INT64_MIN);
  EXPECT_EQ(time_bucket_start(INT64_MIN + 5), INT64_MIN);
  EXPECT_EQ(time_index_expired_before(10 * sec), 9 * sec + 1);
  EXPECT_EQ(time_index_expired_before(INT64_MIN + 3), INT64_MIN);
}

TEST(time_index, one_entry_per_second_of_a_batch_listing_its_events_in_time_order) {
  // Out of order, across three seconds, two clients.
  std::vector<encoded_event> batch = {ev("b", 2 * sec + 5, 10), ev("a", 1 * sec + 9, 11),
                                      ev("a", 2 * sec + 1, 12), ev("b", 1 * sec + 3, 13),
                                      ev("a", 7 * sec, 14)};
  time_index_writer w;
  rocksdb::WriteBatch wb;
  w.put(batch.data(), batch.size(), wb, nullptr);
  collect c;
  ASSERT_TRUE(wb.Iterate(&c).ok());
  ASSERT_EQ(c.puts.size(), 3u);
  EXPECT_EQ(c.puts[0].first, time_key(1 * sec, 13));  // the bucket's first event's seq
  EXPECT_EQ(c.puts[1].first, time_key(2 * sec, 12));
  EXPECT_EQ(c.puts[2].first, time_key(7 * sec, 14));
  std::vector<std::string> listed;
  ASSERT_TRUE(for_each_indexed_key(c.puts[0].second, [&](std::string_view k) { listed.emplace_back(k); }));
  EXPECT_EQ(listed, (std::vector<std::string>{batch[3].key, batch[1].key}));
  EXPECT_FALSE(for_each_indexed_key(c.puts[0].second.substr(1), [](std::string_view) {}));
}

TEST(time_index, merger_gives_time_order_across_batches_and_old_per_event_entries) {
  // Three batches overlapping in second 1, written as the writer does, plus
  // two per-event entries of an earlier version; read back in key order.
  std::map<std::string, std::string> cf;
  auto write = [&](std::vector<encoded_event> b) {
    time_index_writer w;
    rocksdb::WriteBatch wb;
    w.put(b.data(), b.size(), wb, nullptr);
    collect c;
    ASSERT_TRUE(wb.Iterate(&c).ok());
    for (auto& [k, v] : c.puts) cf[k] = v;
  };
  write({ev("a", sec + 500, 1), ev("b", sec + 100, 2), ev("a", 2 * sec + 50, 3)});
  write({ev("c", sec + 300, 4), ev("a", 3 * sec, 5)});
  write({ev("b", sec + 300, 6), ev("b", sec + 999999, 7)});
  cf[time_key(sec + 400, 8)] = event_key("old", sec + 400, 8);
  cf[time_key(2 * sec + 10, 9)] = event_key("old", 2 * sec + 10, 9);

  auto scan = [&](micros since, micros until) {
    time_index_merger m(since, until);
    std::vector<std::string> out;
    for (auto it = cf.lower_bound(time_key(time_bucket_start(since), 0));
         it != cf.end() && it->first < time_key(until, 0); ++it) {
      m.release_before(*parse_time_key(it->first), out);
      EXPECT_TRUE(m.add(it->second));
    }
    m.release_all(out);
    return out;
  };
  const auto all = scan(INT64_MIN, INT64_MAX);
  EXPECT_EQ(times_of(all), (std::vector<micros>{sec + 100, sec + 300, sec + 300, sec + 400, sec + 500,
                                                sec + 999999, 2 * sec + 10, 2 * sec + 50, 3 * sec}));
  // Two events in the same microsecond: in sequence order.
  EXPECT_EQ(parse_event_key(all[1])->seq, 4u);
  EXPECT_EQ(parse_event_key(all[2])->seq, 6u);
  // A range starting and ending inside buckets.
  EXPECT_EQ(times_of(scan(sec + 300, 2 * sec + 50)),
            (std::vector<micros>{sec + 300, sec + 300, sec + 400, sec + 500, sec + 999999, 2 * sec + 10}));
  EXPECT_TRUE(scan(4 * sec, 5 * sec).empty());
}

}  // namespace
}  // namespace dg::storage
