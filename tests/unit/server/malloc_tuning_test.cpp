#include "server/malloc_tuning.h"

#include <gtest/gtest.h>

namespace dg::server {
namespace {

TEST(malloc_tuning, one_arena_per_io_thread_and_two_more_and_a_fixed_mmap_threshold) {
  const malloc_tuning t = malloc_tuning_for(2, nullptr, nullptr, nullptr);
  EXPECT_EQ(t.arena_max, 4);
  EXPECT_EQ(t.mmap_threshold, 128 * 1024);
  EXPECT_EQ(malloc_tuning_for(16, nullptr, nullptr, "").arena_max, 18);
  EXPECT_EQ(malloc_tuning_for(1000, nullptr, nullptr, nullptr).arena_max, 64);
}

TEST(malloc_tuning, the_operators_environment_wins_setting_by_setting) {
  malloc_tuning t = malloc_tuning_for(2, "8", nullptr, nullptr);
  EXPECT_EQ(t.arena_max, 0);
  EXPECT_EQ(t.mmap_threshold, 128 * 1024);
  t = malloc_tuning_for(2, nullptr, "65536", nullptr);
  EXPECT_EQ(t.arena_max, 4);
  EXPECT_EQ(t.mmap_threshold, 0);
  t = malloc_tuning_for(2, nullptr, nullptr, "glibc.malloc.arena_max=1");
  EXPECT_EQ(t.arena_max, 0);
  EXPECT_EQ(t.mmap_threshold, 128 * 1024);
  t = malloc_tuning_for(2, nullptr, nullptr, "glibc.malloc.mmap_threshold=1048576:glibc.malloc.arena_max=2");
  EXPECT_EQ(t.arena_max, 0);
  EXPECT_EQ(t.mmap_threshold, 0);
  // Other tunables leave both to us.
  t = malloc_tuning_for(2, nullptr, nullptr, "glibc.malloc.tcache_count=0");
  EXPECT_EQ(t.arena_max, 4);
  EXPECT_EQ(t.mmap_threshold, 128 * 1024);
}

}  // namespace
}  // namespace dg::server
