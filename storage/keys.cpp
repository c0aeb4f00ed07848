#include "storage/keys.h"

namespace dg::storage {

void put_be64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}

std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string client_prefix(std::string_view client_id) {
  if (client_id.size() > max_client_id_bytes) client_id = client_id.substr(0, max_client_id_bytes);
  std::string k;
  k.reserve(1 + client_id.size() + 16);
  k.push_back(static_cast<char>(client_id.size()));
  k.append(client_id);
  return k;
}

std::string event_key(std::string_view client_id, micros ts, std::uint64_t seq) {
  std::string k;
  assign_event_key(k, client_id, ts, seq);
  return k;
}

void assign_event_key(std::string& out, std::string_view client_id, micros ts, std::uint64_t seq) {
  if (client_id.size() > max_client_id_bytes) client_id = client_id.substr(0, max_client_id_bytes);
  out.clear();
  out.push_back(static_cast<char>(client_id.size()));
  out.append(client_id);
  put_be64(out, ts_to_ordered(ts));
  put_be64(out, seq);
}

std::string time_key(micros ts, std::uint64_t seq) {
  std::string k;
  k.reserve(16);
  put_be64(k, ts_to_ordered(ts));
  put_be64(k, seq);
  return k;
}

std::optional<parsed_event_key> parse_event_key(std::string_view key) {
  if (key.empty()) return std::nullopt;
  const std::size_t len = static_cast<unsigned char>(key[0]);
  if (key.size() != 1 + len + 16) return std::nullopt;
  parsed_event_key p;
  p.client_id = key.substr(1, len);
  p.ts = ordered_to_ts(get_be64(key.data() + 1 + len));
  p.seq = get_be64(key.data() + 1 + len + 8);
  return p;
}

std::optional<micros> parse_time_key(std::string_view key) {
  if (key.size() != 16) return std::nullopt;
  return ordered_to_ts(get_be64(key.data()));
}

}  // namespace dg::storage
