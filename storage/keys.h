// keys: how events, clients and audit entries are laid out in RocksDB keys.
//
//   events          [len:1][client id:len][ts:8][seq:8]  -> QueryEvent
//   events_by_time  [bucket ts:8][seq:8]  -> events keys (time_index.h)
//   audit           [len:1][client id:len][ts:8][seq:8]  -> AuditEntry
//   clients         [client id]                          -> ClientRecord
//
// ts is the event's microseconds since the epoch, big-endian with the sign bit
// flipped, so that byte order is time order (negative times included); seq is
// big-endian, unique per store, so two events of one client in the same
// microsecond both survive. The one-byte length keeps client ids of any length
// (up to 255 bytes) from running into each other and gives RocksDB a prefix
// (the client part) for its bloom filters.
//
// Pure functions; thread safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace dg::storage {

inline constexpr std::size_t max_client_id_bytes = 255;

// The part of an events/audit key before the timestamp: [len][client id].
std::string client_prefix(std::string_view client_id);
// [len][client id][ts][seq].
std::string event_key(std::string_view client_id, micros ts, std::uint64_t seq);
// The same, written over `out` (its buffer reused: append() runs per event).
void assign_event_key(std::string& out, std::string_view client_id, micros ts, std::uint64_t seq);
// The length of the events key that starts at key[0] (one byte of client
// length, the client id, ts and seq), or 0 when fewer bytes than that remain.
inline std::size_t event_key_size(std::string_view key) {
  if (key.empty()) return 0;
  const std::size_t n = 1 + static_cast<unsigned char>(key[0]) + 16;
  return n <= key.size() ? n : 0;
}
// [ts][seq].
std::string time_key(micros ts, std::uint64_t seq);

struct parsed_event_key {
  std::string_view client_id;
  micros ts = 0;
  std::uint64_t seq = 0;
};
// nullopt when `key` is not an events/audit key.
std::optional<parsed_event_key> parse_event_key(std::string_view key);
// The timestamp of a time_key; nullopt when `key` is not one.
std::optional<micros> parse_time_key(std::string_view key);

void put_be64(std::string& out, std::uint64_t v);
std::uint64_t get_be64(const char* p);
// Time <-> an unsigned value whose order is time order.
inline std::uint64_t ts_to_ordered(micros ts) {
  return static_cast<std::uint64_t>(ts) ^ (std::uint64_t{1} << 63);
}
inline micros ordered_to_ts(std::uint64_t v) { return static_cast<micros>(v ^ (std::uint64_t{1} << 63)); }

}  // namespace dg::storage
