// index_merge: keeps the time index (events_by_time) in few, large files.
//
// The index is written in time order, so each memtable flush of it covers a
// key range after every file before it. Leveled compaction never merges such
// files: an L0 compaction takes only the L0 files that overlap the one it
// picked (none), rewrites that one file into the last level unchanged in size,
// and the last level is never compacted by size. Every flush thus stayed a
// file of its own for as long as its data was kept: ~400 KB files, 11 a
// minute under the soak's load (tests/bench/soak.sh), about half a million
// over 30 days of retention, all held open with max_open_files -1.
//
// The store therefore merges runs of adjacent small files of the index's last
// level itself (DB::CompactFiles, from its housekeeping thread), into files
// of up to the family's target size: the file count then follows the size of
// the index (one file per several MiB), not the number of flushes. A file is
// rewritten once or twice more at most before it stops being small.
//
// Thread safety: pick_index_merge is a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dg::storage {

struct index_file {
  std::string name;  // as RocksDB's metadata names it ("/000123.sst")
  std::uint64_t size = 0;
  bool being_compacted = false;
};

struct index_merge_limits {
  // Files below this size are merged with their neighbours.
  std::uint64_t small_file_bytes = 8u << 20;
  // A run of adjacent small files is merged once it holds this many...
  std::size_t min_files = 8;
  // ...and at most this many at once (bounds the work of one merge).
  std::size_t max_files = 64;
};

// The first run (in key order) of at least min_files adjacent small files not
// being compacted, at most max_files of it; empty when there is none.
// `files`: the last level's files in key order.
std::vector<std::string> pick_index_merge(const std::vector<index_file>& files,
                                          const index_merge_limits& limits);

}  // namespace dg::storage
