// Faults with a real file system: a small tmpfs that fills up, and one that is
// remounted read-only. Needs root (mount); skipped otherwise.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "storage/event_store.h"
#include "test_events.h"

namespace dg::storage {
namespace {

using testing::make_event;
using testing::temp_dir;

constexpr micros t0 = 1793577600LL * 1000000;

class small_tmpfs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=16m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  storage_options options() const {
    storage_options o;
    o.path = dir_.sub("db");
    o.flush_interval_ms = 10;
    o.write_buffer_mb = 1;
    o.block_cache_mb = 4;
    o.retention_days = 3650;  // t0 is a fixed date
    return o;
  }
  // Takes every free byte of the file system.
  void fill(const std::string& file) {
    std::ofstream out(file, std::ios::binary);
    const std::string block(1 << 16, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  // Appends rounds of events until a flush fails; true if one did.
  static bool write_until_failure(event_store& s, int& next) {
    for (int round = 0; round < 64; ++round) {
      for (int i = 0; i < 1000; ++i, ++next) (void)s.append(make_event("c", t0 + next, next));
      if (!s.flush()) return true;
    }
    return false;
  }
  static std::size_t count(const event_store& s) {
    std::size_t n = 0;
    const status st = s.scan_client("c", min_time, max_time, 0, false, [&](pb::QueryEvent&&) {
      ++n;
      return true;
    });
    EXPECT_TRUE(st) << st.to_string();
    return n;
  }

  temp_dir dir_;
  bool mounted_ = false;
};

TEST_F(small_tmpfs, disk_full_degrades_counts_drops_and_recovers) {
  event_store s(options());
  ASSERT_TRUE(s.open());
  int next = 0;
  for (; next < 100; ++next) ASSERT_TRUE(s.append(make_event("c", t0 + next, next)));
  ASSERT_TRUE(s.flush());
  EXPECT_TRUE(s.healthy());

  fill(dir_.sub("filler"));
  ASSERT_TRUE(write_until_failure(s, next)) << "writes never failed on a full disk";
  EXPECT_FALSE(s.healthy());
  EXPECT_NE(s.degraded_reason().find(dir_.sub("db")), std::string::npos) << s.degraded_reason();
  const auto st = s.stats();
  EXPECT_TRUE(st.degraded);
  EXPECT_GE(st.write_errors, 1u);
  EXPECT_GE(st.dropped_write_error, 1u);
  // The store keeps accepting (and dropping) without blocking anyone.
  EXPECT_TRUE(s.append(make_event("c", t0 + next, next)));
  ++next;

  // Space comes back: the next attempts resume RocksDB and write again.
  std::filesystem::remove(dir_.sub("filler"));
  const std::size_t before = count(s);
  bool recovered = false;
  for (int attempt = 0; attempt < 50 && !recovered; ++attempt) {
    for (int i = 0; i < 10; ++i, ++next) (void)s.append(make_event("c", t0 + next, next));
    recovered = static_cast<bool>(s.flush());
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(recovered) << s.degraded_reason();
  EXPECT_TRUE(s.healthy());
  EXPECT_EQ(s.degraded_reason(), "");
  for (int i = 0; i < 10; ++i, ++next) ASSERT_TRUE(s.append(make_event("c", t0 + next, next)));
  ASSERT_TRUE(s.flush());
  EXPECT_GE(count(s), before + 10);
  s.close();

  // Nothing is corrupted: the store opens again and the events are there.
  event_store again(options());
  ASSERT_TRUE(again.open());
  EXPECT_GE(count(again), before + 10);
}

TEST_F(small_tmpfs, a_read_only_file_system_is_refused_at_start_clearly) {
  {
    event_store s(options());
    ASSERT_TRUE(s.open());
    ASSERT_TRUE(s.append(make_event("c", t0, 0)));
  }
  ASSERT_EQ(::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=16m"), 0)
      << std::strerror(errno);
  event_store s(options());
  const status st = s.open();
  ::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT, "size=16m");
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find(dir_.sub("db")), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("Read-only file system"), std::string::npos) << st.message();
}

// While running, the kernel refuses to remount a file system read-only under
// open writers (it does that itself only after I/O errors), so the running
// case wraps RocksDB's file system and fails every write with EROFS's message
// while `read_only` is set.

class ro_file final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  ro_file(std::unique_ptr<rocksdb::FSWritableFile>&& f, const std::atomic<bool>& ro)
      : FSWritableFileOwnerWrapper(std::move(f)), ro_(ro) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* g) override {
    if (ro_) return erofs();
    return FSWritableFileOwnerWrapper::Append(d, o, g);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* g) override {
    if (ro_) return erofs();
    return FSWritableFileOwnerWrapper::Append(d, o, v, g);
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* g) override {
    if (ro_) return erofs();
    return FSWritableFileOwnerWrapper::Flush(o, g);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* g) override {
    if (ro_) return erofs();
    return FSWritableFileOwnerWrapper::Sync(o, g);
  }
  static rocksdb::IOStatus erofs() { return rocksdb::IOStatus::IOError("Read-only file system"); }

 private:
  const std::atomic<bool>& ro_;
};

class ro_fs final : public rocksdb::FileSystemWrapper {
 public:
  ro_fs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "distillguard_test_ro_fs"; }
  const char* Name() const override { return kClassName(); }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* g) override {
    if (read_only) return ro_file::erofs();
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = FileSystemWrapper::NewWritableFile(f, o, &inner, g);
    if (s.ok()) *r = std::make_unique<ro_file>(std::move(inner), read_only);
    return s;
  }
  std::atomic<bool> read_only{false};
};

TEST(read_only_fs, writes_fail_degrade_and_recover) {
  auto fs = std::make_shared<ro_fs>();
  auto env = rocksdb::NewCompositeEnv(fs);
  temp_dir dir;
  storage_options o;
  o.path = dir.sub("db");
  o.flush_interval_ms = 10;
  o.write_buffer_mb = 1;
  o.retention_days = 3650;
  event_store s(o);
  s.set_env(env.get());
  ASSERT_TRUE(s.open());
  int next = 0;
  for (; next < 100; ++next) ASSERT_TRUE(s.append(make_event("c", t0 + next, next)));
  ASSERT_TRUE(s.flush());

  fs->read_only = true;
  for (int i = 0; i < 100; ++i, ++next) ASSERT_TRUE(s.append(make_event("c", t0 + next, next)));
  EXPECT_FALSE(s.flush());
  EXPECT_FALSE(s.healthy());
  EXPECT_NE(s.degraded_reason().find("Read-only"), std::string::npos) << s.degraded_reason();
  EXPECT_GE(s.stats().dropped_write_error, 100u);

  fs->read_only = false;
  bool recovered = false;
  for (int attempt = 0; attempt < 50 && !recovered; ++attempt) {
    for (int i = 0; i < 10; ++i, ++next) (void)s.append(make_event("c", t0 + next, next));
    recovered = static_cast<bool>(s.flush());
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(recovered) << s.degraded_reason();
  EXPECT_TRUE(s.healthy());
  std::size_t n = 0;
  ASSERT_TRUE(s.scan_client("c", min_time, max_time, 0, false, [&](pb::QueryEvent&&) {
    ++n;
    return true;
  }));
  EXPECT_GE(n, 110u);
}

}  // namespace
}  // namespace dg::storage
