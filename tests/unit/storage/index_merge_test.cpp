// The time index stays in few files: the picker's choice, and the store
// merging the one-file-per-flush output of leveled compaction.
#include "storage/index_merge.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "storage/event_store.h"
#include "test_events.h"

#ifndef DG_TEST_TIMEOUT_SCALE
#define DG_TEST_TIMEOUT_SCALE 1
#endif

namespace dg::storage {
namespace {

using testing::temp_dir;

constexpr micros t0 = 1793577600LL * 1000000;

std::vector<index_file> files_of(const std::vector<std::uint64_t>& sizes) {
  std::vector<index_file> out;
  for (std::size_t i = 0; i < sizes.size(); ++i) out.push_back({"/" + std::to_string(i) + ".sst", sizes[i], false});
  return out;
}

std::vector<std::string> names(std::initializer_list<int> ids) {
  std::vector<std::string> out;
  for (int i : ids) out.push_back("/" + std::to_string(i) + ".sst");
  return out;
}

constexpr std::uint64_t kb = 1024, mb = 1024 * 1024;

TEST(pick_index_merge, takes_the_first_run_of_small_files_long_enough) {
  const index_merge_limits l{8 * mb, 3, 5};
  // 0 big; 1-2 small (too short a run); 3 big; 4-7 small; 8 big.
  EXPECT_EQ(pick_index_merge(files_of({64 * mb, 400 * kb, 400 * kb, 9 * mb, 400 * kb, 1 * mb, 7 * mb,
                                       400 * kb, 20 * mb}),
                             l),
            names({4, 5, 6, 7}));
}

TEST(pick_index_merge, caps_a_run_at_max_files) {
  const index_merge_limits l{8 * mb, 3, 5};
  EXPECT_EQ(pick_index_merge(files_of(std::vector<std::uint64_t>(12, 400 * kb)), l), names({0, 1, 2, 3, 4}));
}

TEST(pick_index_merge, a_short_tail_waits_for_more_files) {
  const index_merge_limits l{8 * mb, 3, 5};
  EXPECT_TRUE(pick_index_merge(files_of({64 * mb, 400 * kb, 400 * kb}), l).empty());
  EXPECT_TRUE(pick_index_merge(files_of({}), l).empty());
  EXPECT_TRUE(pick_index_merge(files_of({64 * mb, 8 * mb, 30 * mb}), l).empty());
}

TEST(pick_index_merge, a_file_being_compacted_breaks_the_run) {
  const index_merge_limits l{8 * mb, 3, 5};
  auto f = files_of({400 * kb, 400 * kb, 400 * kb, 400 * kb, 400 * kb});
  f[2].being_compacted = true;
  EXPECT_TRUE(pick_index_merge(f, l).empty());
  f.push_back({"/5.sst", 400 * kb, false});
  EXPECT_EQ(pick_index_merge(f, l), names({3, 4, 5}));
}

// The bug this guards against: with leveled compaction alone, every flush of
// the time-ordered index stays a file of its own.
TEST(event_store, time_index_files_are_merged_and_stay_readable) {
  temp_dir dir;
  storage_options o;
  o.path = dir.sub("db");
  o.flush_interval_ms = 10;
  o.write_buffer_mb = 1;  // the index's memtable: 1 MiB
  o.block_cache_mb = 4;
  o.retention_days = 3650;
  o.max_batch_events = 1000;
  event_store s(o);
  ASSERT_TRUE(s.open());
  // Long client ids make the index large next to the events: each event adds
  // ~1 KiB to the index, so a flush of it every ~1,000 events, and 40 flushes
  // come quickly even under ThreadSanitizer.
  const std::string client(1000, 'x');
  int n = 0;
  // 60 s in the plain build, scaled under a sanitizer (CMakeLists.txt).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60 * DG_TEST_TIMEOUT_SCALE);
  while (s.index_file_count() < 40 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1000; ++i, ++n) {
      pb::QueryEvent e;
      e.set_client_id(client + std::to_string(n % 4));
      e.set_ts_micros(t0 + static_cast<micros>(n) * 1000);
      ASSERT_TRUE(s.append(std::move(e)));
    }
    ASSERT_TRUE(s.flush());
  }
  const std::size_t before = s.index_file_count();
  ASSERT_GE(before, 40u) << "the index was not flushed into enough files";

  // Leveled compaction moves the flushes down one by one; merge what reached
  // the last level until the count settles.
  std::size_t after = before;
  for (int round = 0; round < 100; ++round) {
    ASSERT_TRUE(s.merge_index_files());
    after = s.index_file_count();
    if (after <= before / 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // What stays: the last merged files, a tail shorter than a run worth
  // merging and the L0 files not yet compacted down.
  EXPECT_LE(after, before / 2) << "from " << before;

  std::size_t count = 0;
  micros last = 0;
  ASSERT_TRUE(s.scan_time(min_time, max_time, [&](pb::QueryEvent&& e) {
    EXPECT_GE(e.ts_micros(), last);
    last = e.ts_micros();
    ++count;
    return true;
  }));
  EXPECT_EQ(count, static_cast<std::size_t>(n));
}

}  // namespace
}  // namespace dg::storage
