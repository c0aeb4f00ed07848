#include "storage/event_store.h"

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage/privacy.h"
#include "storage/time_index.h"
#include "test_events.h"

namespace dg::storage {
namespace {

using testing::make_event;
using testing::temp_dir;
using google::protobuf::util::MessageDifferencer;

constexpr micros day = 86400LL * 1000000;
constexpr micros t0 = 1793577600LL * 1000000;  // 2026-11-02

storage_options options_at(const std::string& path) {
  storage_options o;
  o.path = path;
  o.flush_interval_ms = 10;
  o.write_buffer_mb = 4;
  o.block_cache_mb = 8;
  o.retention_days = 3650;  // t0 is a fixed date; tests that need retention set it
  return o;
}

std::vector<pb::QueryEvent> scan(const event_store& s, const std::string& client, micros since = min_time,
                                 micros until = max_time, std::size_t limit = 0, bool reverse = false) {
  std::vector<pb::QueryEvent> out;
  const status st = s.scan_client(client, since, until, limit, reverse, [&](pb::QueryEvent&& e) {
    out.push_back(std::move(e));
    return true;
  });
  EXPECT_TRUE(st) << st.to_string();
  return out;
}

std::vector<pb::QueryEvent> scan_all(const event_store& s, micros since, micros until) {
  std::vector<pb::QueryEvent> out;
  const status st = s.scan_time(since, until, [&](pb::QueryEvent&& e) {
    out.push_back(std::move(e));
    return true;
  });
  EXPECT_TRUE(st) << st.to_string();
  return out;
}

// Counts the keys physically present in a column family (after close); with
// `listed`, the events keys listed by the values instead (the time index).
std::size_t raw_keys(const std::string& path, const std::string& family, bool listed = false) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> fams;
  for (const auto& n : names) fams.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, fams, &hs, &db).ok());
  std::size_t n = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != family) continue;
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, hs[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!listed) {
        ++n;
        continue;
      }
      EXPECT_TRUE(for_each_indexed_key(std::string_view(it->value().data(), it->value().size()),
                                       [&](std::string_view) { ++n; }));
    }
  }
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
  return n;
}

TEST(event_store, query_event_round_trips) {
  temp_dir dir;
  event_store s(options_at(dir.sub("db")));
  ASSERT_TRUE(s.open());
  auto e = make_event("client-a", t0, 7);
  apply_prompt_privacy(e, s.options());
  const pb::QueryEvent expected = e;
  ASSERT_TRUE(s.append(std::move(e)));
  ASSERT_TRUE(s.flush());
  const auto got = scan(s, "client-a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(MessageDifferencer::Equals(got[0], expected)) << got[0].DebugString();
  EXPECT_EQ(s.stats().events_written, 1u);
}

TEST(event_store, client_record_and_audit_round_trip) {
  temp_dir dir;
  event_store s(options_at(dir.sub("db")));
  ASSERT_TRUE(s.open());
  pb::ClientRecord r;
  r.set_client_id("client-a");
  r.set_client_hint("sk-...abcd");
  r.set_events(412);
  r.set_risk(0.97);
  r.set_verdict(pb::VERDICT_BLOCK);
  auto* sc = r.add_scores();
  sc->set_detector("templates");
  sc->set_score(0.9);
  sc->set_reason("one template in 98% of prompts");
  r.set_detector_state(std::string("\x00\x01\x02opaque", 9));
  r.set_override_active(true);
  r.set_override_verdict(pb::VERDICT_THROTTLE);
  ASSERT_TRUE(s.put_client(r));
  pb::ClientRecord r2 = r;
  r2.set_client_id("client-b");
  ASSERT_TRUE(s.put_clients({r2}));

  pb::ClientRecord got;
  ASSERT_TRUE(s.get_client("client-a", got));
  EXPECT_TRUE(MessageDifferencer::Equals(got, r));
  EXPECT_EQ(s.get_client("nobody", got).error_code(), status::code::not_found);
  std::vector<std::string> ids;
  ASSERT_TRUE(s.load_clients([&](pb::ClientRecord&& c) {
    ids.push_back(c.client_id());
    return true;
  }));
  EXPECT_EQ(ids, (std::vector<std::string>{"client-a", "client-b"}));

  for (int i = 0; i < 5; ++i) {
    pb::AuditEntry a;
    a.set_ts_micros(t0 + i);
    a.set_client_id(i % 2 == 0 ? "client-a" : "client-b");
    a.set_from(pb::VERDICT_ALLOW);
    a.set_to(pb::VERDICT_BLOCK);
    a.set_risk(0.5 + i * 0.1);
    *a.add_scores() = *sc;
    a.add_reasons("reason " + std::to_string(i));
    a.set_source("policy");
    ASSERT_TRUE(s.append_audit(a));
  }
  std::vector<pb::AuditEntry> audit;
  auto collect = [&](pb::AuditEntry&& a) {
    audit.push_back(std::move(a));
    return true;
  };
  ASSERT_TRUE(s.scan_audit("client-a", 0, collect));
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].ts_micros(), t0 + 4);  // newest first
  EXPECT_EQ(audit[0].reasons(0), "reason 4");
  EXPECT_EQ(audit[0].scores(0).detector(), "templates");
  audit.clear();
  ASSERT_TRUE(s.scan_audit("", 2, collect));
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].ts_micros(), t0 + 4);
  EXPECT_EQ(audit[1].ts_micros(), t0 + 3);
}

TEST(event_store, load_clients_reads_in_batches_and_lets_the_callback_write) {
  temp_dir dir;
  event_store s(options_at(dir.sub("db")));
  ASSERT_TRUE(s.open());
  constexpr int n = 2500;  // more than two batches
  std::vector<pb::ClientRecord> records;
  for (int i = 0; i < n; ++i) {
    pb::ClientRecord r;
    char id[16];
    std::snprintf(id, sizeof id, "client-%05d", i);
    r.set_client_id(id);
    records.push_back(r);
  }
  ASSERT_TRUE(s.put_clients(records));
  std::vector<std::string> ids;
  ASSERT_TRUE(s.load_clients([&](pb::ClientRecord&& c) {
    ids.push_back(c.client_id());
    // The store's lock is not held here: writing from the callback must not deadlock
    // (the policy restores clients and writes audit entries under its own lock).
    pb::AuditEntry a;
    a.set_ts_micros(t0);
    a.set_client_id(c.client_id());
    EXPECT_TRUE(s.append_audit(a));
    return true;
  }));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(ids[static_cast<std::size_t>(i)], records[static_cast<std::size_t>(i)].client_id());

  std::size_t seen = 0;  // false from the callback stops the load, also past a batch boundary
  ASSERT_TRUE(s.load_clients([&](pb::ClientRecord&&) { return ++seen < 1500; }));
  EXPECT_EQ(seen, 1500u);
}

TEST(event_store, scans_by_client_and_by_time) {
  temp_dir dir;
  manual_clock clock(t0 + 10 * day);
  event_store s(options_at(dir.sub("db")), nullptr, &clock);
  ASSERT_TRUE(s.open());
  // Three clients, interleaved; "a" is a prefix of "ab" on purpose.
  const std::vector<std::string> clients = {"a", "ab", "b"};
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(s.append(make_event(clients[i % 3], t0 + i * 1000, i)));
  }
  // Two events of one client in the same microsecond both survive.
  ASSERT_TRUE(s.append(make_event("a", t0, 1000)));
  ASSERT_TRUE(s.flush());

  auto a = scan(s, "a");
  ASSERT_EQ(a.size(), 101u);
  for (std::size_t i = 1; i < a.size(); ++i) EXPECT_LE(a[i - 1].ts_micros(), a[i].ts_micros());
  for (const auto& e : a) EXPECT_EQ(e.client_id(), "a");
  EXPECT_EQ(scan(s, "ab").size(), 100u);
  EXPECT_TRUE(scan(s, "zz").empty());

  // [since, until): events 30..59 of all, i.e. 10 of client "a".
  auto win = scan(s, "a", t0 + 30000, t0 + 60000);
  ASSERT_EQ(win.size(), 10u);
  EXPECT_EQ(win.front().ts_micros(), t0 + 30000);
  EXPECT_EQ(win.back().ts_micros(), t0 + 57000);

  // Newest first with a limit: the last 5.
  auto last = scan(s, "a", min_time, max_time, 5, true);
  ASSERT_EQ(last.size(), 5u);
  EXPECT_EQ(last[0].ts_micros(), t0 + 297000);
  EXPECT_EQ(last[4].ts_micros(), t0 + 285000);
  auto last_in = scan(s, "b", min_time, t0 + 100000, 2, true);
  ASSERT_EQ(last_in.size(), 2u);
  EXPECT_EQ(last_in[0].ts_micros(), t0 + 98000);

  // Across clients, in time order.
  auto all = scan_all(s, t0 + 100000, t0 + 110000);
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].ts_micros(), t0 + 100000 + static_cast<micros>(i) * 1000);
    EXPECT_EQ(all[i].client_id(), clients[(100 + i) % 3]);
  }
  EXPECT_EQ(scan_all(s, min_time, max_time).size(), 301u);
  // A callback returning false stops the scan.
  int seen = 0;
  ASSERT_TRUE(s.scan_time(min_time, max_time, [&](pb::QueryEvent&&) { return ++seen < 3; }));
  EXPECT_EQ(seen, 3);
}

// Events reach the store late and out of order (a long stream is recorded
// when it ends, under the time it began), in several batches: the time scan
// still gives them in time order, ranges cut inside a second included.
TEST(event_store, time_scan_orders_late_events_across_batches) {
  temp_dir dir;
  manual_clock clock(t0 + 10 * day);
  event_store s(options_at(dir.sub("db")), nullptr, &clock);
  ASSERT_TRUE(s.open());
  std::vector<micros> written;
  for (int batch = 0; batch < 5; ++batch) {
    for (int i = 0; i < 40; ++i) {
      // Spread over ~4 seconds, each batch reaching back into earlier ones.
      const micros ts = t0 + ((i * 7919 + batch * 104729) % 4000) * 1000 + batch;
      written.push_back(ts);
      ASSERT_TRUE(s.append(make_event(i % 2 ? "x" : "y", ts, i)));
    }
    ASSERT_TRUE(s.flush());
  }
  std::sort(written.begin(), written.end());
  auto times = [](const std::vector<pb::QueryEvent>& v) {
    std::vector<micros> out;
    for (const auto& e : v) out.push_back(e.ts_micros());
    return out;
  };
  EXPECT_EQ(times(scan_all(s, min_time, max_time)), written);
  const micros since = t0 + 1500000, until = t0 + 2500000;
  std::vector<micros> want;
  for (const micros t : written) {
    if (t >= since && t < until) want.push_back(t);
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(times(scan_all(s, since, until)), want);
}

TEST(event_store, survives_a_restart) {
  temp_dir dir;
  {
    event_store s(options_at(dir.sub("db")));
    ASSERT_TRUE(s.open());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(s.append(make_event("c", t0 + i, i)));
    pb::ClientRecord r;
    r.set_client_id("c");
    r.set_verdict(pb::VERDICT_THROTTLE);
    ASSERT_TRUE(s.put_client(r));
    s.close();  // drains the queue
  }
  event_store s(options_at(dir.sub("db")));
  ASSERT_TRUE(s.open());
  // Same microseconds again after the restart: new sequence numbers, no overwrite.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(s.append(make_event("c", t0 + i, i)));
  ASSERT_TRUE(s.flush());
  EXPECT_EQ(scan(s, "c").size(), 100u);
  pb::ClientRecord r;
  ASSERT_TRUE(s.get_client("c", r));
  EXPECT_EQ(r.verdict(), pb::VERDICT_THROTTLE);
}

TEST(event_store, full_queue_drops_and_counts) {
  temp_dir dir;
  auto o = options_at(dir.sub("db"));
  o.queue_capacity = 16;
  o.flush_interval_ms = 60000;  // the writer sleeps: only flush() drains
  o.max_batch_events = 1u << 20;
  prometheus::Registry registry;
  event_store s(o, &registry);
  ASSERT_TRUE(s.open());
  EXPECT_EQ(s.queue_capacity(), 16u);
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += s.append(make_event("c", t0 + i, i)) ? 1 : 0;
  EXPECT_EQ(accepted, 16);
  EXPECT_EQ(s.stats().dropped_queue_full, 84u);
  ASSERT_TRUE(s.flush());
  EXPECT_EQ(s.stats().events_written, 16u);
  EXPECT_EQ(scan(s, "c").size(), 16u);
  EXPECT_TRUE(s.healthy());

  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("distillguard_storage_events_dropped_total{reason=\"queue_full\"} 84"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("distillguard_storage_events_written_total 16"), std::string::npos);
  EXPECT_NE(text.find("distillguard_storage_write_seconds_count"), std::string::npos);
  EXPECT_NE(text.find("distillguard_storage_degraded 0"), std::string::npos);
}

// A write stall must not pile up unbounded memory in the queue: large events
// fill queue_max_mb long before queue_capacity.
TEST(event_store, queue_full_in_bytes_drops_and_counts) {
  temp_dir dir;
  auto o = options_at(dir.sub("db"));
  o.queue_capacity = 1u << 20;
  o.queue_max_mb = 1;
  o.flush_interval_ms = 60000;  // the writer sleeps: only flush() drains
  o.max_batch_events = 1u << 20;
  prometheus::Registry registry;
  event_store s(o, &registry);
  ASSERT_TRUE(s.open());
  auto big = [](int i) {
    auto e = make_event("c", t0 + i, i);
    e.set_prompt_text(std::string(10000, 'p'));  // ~10.5 KB encoded: at most ~100 fit in 1 MiB
    return e;
  };
  int accepted = 0;
  for (int i = 0; i < 300; ++i) accepted += s.append(big(i)) ? 1 : 0;
  EXPECT_GE(accepted, 80);
  EXPECT_LE(accepted, 100);
  const storage_stats st = s.stats();
  EXPECT_EQ(st.dropped_queue_bytes, static_cast<std::uint64_t>(300 - accepted));
  EXPECT_EQ(st.dropped_queue_full, 0u);
  EXPECT_EQ(st.queue_depth, static_cast<std::uint64_t>(accepted));
  EXPECT_LE(st.queue_bytes, 1u << 20);
  EXPECT_GE(st.queue_bytes, static_cast<std::uint64_t>(accepted) * 10000);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("distillguard_storage_events_dropped_total{reason=\"queue_bytes\"} " +
                      std::to_string(300 - accepted)),
            std::string::npos)
      << text;

  // The writer gives the bytes back as it takes the events: there is room again.
  ASSERT_TRUE(s.flush());
  EXPECT_EQ(s.stats().events_written, static_cast<std::uint64_t>(accepted));
  EXPECT_EQ(s.stats().queue_bytes, 0u);
  EXPECT_TRUE(s.append(big(1000)));
  ASSERT_TRUE(s.flush());
  EXPECT_EQ(scan(s, "c").size(), static_cast<std::size_t>(accepted) + 1);
  EXPECT_EQ(s.stats().dropped_queue_bytes, static_cast<std::uint64_t>(300 - accepted));
}

// The DBOptions RocksDB recorded in the newest OPTIONS file of `path`: what
// it actually ran with, after its own sanitizing.
std::string recorded_db_option(const std::string& path, const std::string& name) {
  std::filesystem::path newest;
  for (const auto& f : std::filesystem::directory_iterator(path)) {
    const std::string n = f.path().filename().string();
    if (n.rfind("OPTIONS-", 0) == 0 && (newest.empty() || n > newest.filename().string())) newest = f.path();
  }
  std::ifstream in(newest);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const auto start = line.find_first_not_of(' ');
    if (line.substr(start, eq - start) == name) return line.substr(eq + 1);
  }
  return "(absent)";
}

TEST(event_store, max_open_files_reaches_rocksdb) {
  temp_dir dir;
  {
    event_store s(options_at(dir.sub("db")));
    ASSERT_TRUE(s.open());
    s.close();
  }
  EXPECT_EQ(recorded_db_option(dir.sub("db"), "max_open_files"), std::to_string(storage_options().max_open_files));
  auto o = options_at(dir.sub("db"));
  o.max_open_files = 100;
  event_store s(o);
  ASSERT_TRUE(s.open());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.append(make_event("c", t0 + i, i)));
  ASSERT_TRUE(s.flush());
  EXPECT_EQ(recorded_db_option(dir.sub("db"), "max_open_files"), "100");
  // A follower beside it must keep every file open (a secondary instance
  // requires it) and still reads.
  event_store follower(options_at(dir.sub("db")));
  ASSERT_TRUE(follower.open_read_only(dir.sub("follower")));
  EXPECT_EQ(scan(follower, "c").size(), 100u);
}

// The store's share of memory is visible: memtables fill as events arrive; the
// block cache holds what reads brought in.
TEST(event_store, memory_gauges_follow_rocksdb) {
  temp_dir dir;
  prometheus::Registry registry;
  event_store s(options_at(dir.sub("db")), &registry);
  ASSERT_TRUE(s.open());
  auto gauge = [&](const std::string& name) {
    for (const auto& family : registry.Collect()) {
      if (family.name == name && !family.metric.empty()) return family.metric[0].gauge.value;
    }
    ADD_FAILURE() << "no " << name;
    return -1.0;
  };
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(s.append(make_event("c" + std::to_string(i % 7), t0 + i, i)));
  ASSERT_TRUE(s.flush());  // the writer sets the gauges before it reports the flush done
  EXPECT_GT(gauge("distillguard_storage_memtable_bytes"), 500 * 400.0);
  ASSERT_TRUE(s.compact());  // events to table files, whose index and filter blocks are cached
  EXPECT_EQ(scan(s, "c3").size(), 71u);
  ASSERT_TRUE(s.flush());
  EXPECT_GT(gauge("distillguard_storage_block_cache_bytes"), 0.0);
}

TEST(event_store, retention_deletes_expired_events) {
  temp_dir dir;
  manual_clock clock(t0);
  auto o = options_at(dir.sub("db"));
  o.retention_days = 2;
  {
    event_store s(o, nullptr, &clock);
    ASSERT_TRUE(s.open());
    // Days 0..4, 10 events a day, two clients.
    for (int d = 0; d < 5; ++d) {
      for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(s.append(make_event(i % 2 ? "x" : "y", t0 + d * day + i, i)));
      }
    }
    ASSERT_TRUE(s.flush());
    clock.set(t0 + 4 * day + day / 2);  // cutoff: day 2.5, so days 3 and 4 remain
    // Expired events vanish from reads at once...
    EXPECT_EQ(scan(s, "x").size(), 10u);
    EXPECT_EQ(scan_all(s, min_time, max_time).size(), 20u);
    // ...and from disk when the retention task runs.
    ASSERT_TRUE(s.run_retention());
    EXPECT_EQ(scan_all(s, min_time, max_time).size(), 20u);
  }
  EXPECT_EQ(raw_keys(dir.sub("db"), "events"), 20u);
  EXPECT_EQ(raw_keys(dir.sub("db"), "events_by_time", true), 20u);
}

TEST(event_store, compaction_filter_drops_expired_events) {
  temp_dir dir;
  manual_clock clock(t0);
  auto o = options_at(dir.sub("db"));
  o.retention_days = 1;
  {
    event_store s(o, nullptr, &clock);
    ASSERT_TRUE(s.open());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.append(make_event("x", t0 + (i % 3) * day, i)));
    ASSERT_TRUE(s.flush());
    // Only the 10 events of day 2 are younger than a day; and day 1's second
    // of the time index is wholly expired (an index entry goes once all the
    // events it may list are expired: time_index.h).
    clock.set(t0 + 2 * day + time_bucket_micros);
    ASSERT_TRUE(s.compact());     // no retention walk: the filter alone
  }
  EXPECT_EQ(raw_keys(dir.sub("db"), "events"), 10u);
  EXPECT_EQ(raw_keys(dir.sub("db"), "events_by_time", true), 10u);
}

TEST(event_store, read_only_follower_sees_what_the_writer_committed) {
  temp_dir dir;
  event_store w(options_at(dir.sub("db")));
  ASSERT_TRUE(w.open());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w.append(make_event("c", t0 + i, i)));
  ASSERT_TRUE(w.flush());

  event_store r(options_at(dir.sub("db")));
  ASSERT_TRUE(r.open_read_only());
  EXPECT_EQ(scan(r, "c").size(), 20u);
  EXPECT_FALSE(r.append(make_event("c", t0, 0)));
  EXPECT_FALSE(r.put_client(pb::ClientRecord()));

  for (int i = 20; i < 30; ++i) ASSERT_TRUE(w.append(make_event("c", t0 + i, i)));
  ASSERT_TRUE(w.flush());
  ASSERT_TRUE(r.catch_up());
  EXPECT_EQ(scan(r, "c").size(), 30u);
  EXPECT_EQ(scan_all(r, min_time, max_time).size(), 30u);
}

TEST(event_store, a_directory_in_use_is_refused_clearly) {
  temp_dir dir;
  event_store a(options_at(dir.sub("db")));
  ASSERT_TRUE(a.open());
  event_store b(options_at(dir.sub("db")));
  const status s = b.open();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(dir.sub("db")), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("another process holds the database"), std::string::npos) << s.message();
}

TEST(event_store, a_file_where_the_directory_should_be_is_refused_clearly) {
  temp_dir dir;
  std::ofstream(dir.sub("db")) << "not a directory";
  event_store s(options_at(dir.sub("db")));
  const status st = s.open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error_code(), status::code::io_error);
  EXPECT_NE(st.message().find(dir.sub("db")), std::string::npos) << st.message();
}

TEST(event_store, an_unwritable_directory_is_refused_clearly) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  temp_dir dir;
  std::filesystem::create_directory(dir.sub("db"));
  std::filesystem::permissions(dir.sub("db"), std::filesystem::perms::none);
  event_store s(options_at(dir.sub("db")));
  const status st = s.open();
  std::filesystem::permissions(dir.sub("db"), std::filesystem::perms::owner_all);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find(dir.sub("db")), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("Permission denied"), std::string::npos) << st.message();
}

TEST(event_store, a_corrupted_database_is_refused_clearly) {
  temp_dir dir;
  {
    event_store s(options_at(dir.sub("db")));
    ASSERT_TRUE(s.open());
    ASSERT_TRUE(s.append(make_event("c", t0, 0)));
  }
  // CURRENT names a manifest that does not exist.
  std::ofstream(dir.sub("db") + "/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  event_store s(options_at(dir.sub("db")));
  const status st = s.open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find(dir.sub("db")), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("MANIFEST-999999"), std::string::npos) << st.message();

  // A manifest full of garbage is reported as corruption.
  temp_dir dir2;
  {
    event_store s2(options_at(dir2.sub("db")));
    ASSERT_TRUE(s2.open());
  }
  for (const auto& f : std::filesystem::directory_iterator(dir2.sub("db"))) {
    if (f.path().filename().string().starts_with("MANIFEST-")) {
      std::ofstream(f.path(), std::ios::trunc) << std::string(4096, '\x5a');
    }
  }
  event_store s2(options_at(dir2.sub("db")));
  const status st2 = s2.open();
  ASSERT_FALSE(st2);
  EXPECT_NE(st2.message().find(dir2.sub("db")), std::string::npos) << st2.message();
  EXPECT_EQ(st2.error_code(), status::code::corruption) << st2.message();
  EXPECT_NE(st2.message().find("damaged"), std::string::npos) << st2.message();
}

TEST(event_store, disabled_store_writes_nothing) {
  temp_dir dir;
  auto o = options_at(dir.sub("db"));
  o.enabled = false;
  event_store s(o);
  ASSERT_TRUE(s.open());
  EXPECT_TRUE(s.append(make_event("c", t0, 0)));
  EXPECT_TRUE(s.flush());
  EXPECT_TRUE(s.healthy());
  EXPECT_FALSE(std::filesystem::exists(dir.sub("db")));
}

}  // namespace
}  // namespace dg::storage
