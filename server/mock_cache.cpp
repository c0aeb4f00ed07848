#include "server/mock_cache.h"

#include <cinttypes>
#include <cstdio>

#include "common/crypto.h"

namespace dg::server::mock {

namespace {

constexpr std::size_t id_hex = 24;  // as mock_answer.cpp writes ids: prefix + 24 hex digits

// Where the value of the first "key":"..." string or "key":123 number starts.
std::size_t value_pos(const std::string& body, std::string_view key) {
  const std::size_t at = body.find(key);
  return at == std::string::npos ? at : at + key.size();
}

}  // namespace

std::string answer_cache::request_key(std::string_view method, std::string_view target, std::string_view body) {
  std::string k;
  k.reserve(method.size() + target.size() + body.size() + 2);
  k.append(method).append(1, ' ').append(target).append(1, '\n').append(body);
  return k;
}

std::optional<reply> answer_cache::find(std::string_view method, std::string_view target, std::string_view body,
                                        const request_context& ctx) const {
  if (capacity_ == 0) return std::nullopt;
  const std::string key = request_key(method, target, body);
  std::shared_ptr<const entry> e;
  {
    std::lock_guard lock(mu_);
    const auto it = map_.find(hash64(key));
    if (it == map_.end()) return std::nullopt;
    e = it->second;
  }
  if (e->request != key) return std::nullopt;
  reply r;
  r.body = e->body;
  if (e->id_pos != std::string::npos) {
    char hex[id_hex + 1];
    std::snprintf(hex, sizeof hex, "%016" PRIx64 "%08" PRIx64, hash64(std::to_string(ctx.serial), hash64(key)),
                  static_cast<std::uint64_t>(ctx.serial & 0xffffffffU));
    r.body.replace(e->id_pos, id_hex, hex, id_hex);
  }
  if (e->created_pos != std::string::npos) {
    const std::string created = std::to_string(ctx.created);
    if (created.size() == e->created_len) r.body.replace(e->created_pos, e->created_len, created);
  }
  return r;
}

void answer_cache::remember(std::string_view method, std::string_view target, std::string_view body,
                            const reply& r) {
  if (capacity_ == 0 || r.status != 200 || r.stream) return;
  auto e = std::make_shared<entry>();
  e->request = request_key(method, target, body);
  e->body = r.body;
  // The id is the first string value of "id" in the answer; its last 24
  // characters are the hex digits.
  if (const std::size_t v = value_pos(e->body, "\"id\":\""); v != std::string::npos) {
    const std::size_t end = e->body.find('"', v);
    if (end != std::string::npos && end - v >= id_hex) e->id_pos = end - id_hex;
  }
  std::size_t c = value_pos(e->body, "\"created\":");
  if (c == std::string::npos) c = value_pos(e->body, "\"created_at\":");
  if (c != std::string::npos) {
    std::size_t end = c;
    while (end < e->body.size() && e->body[end] >= '0' && e->body[end] <= '9') ++end;
    if (end > c) {
      e->created_pos = c;
      e->created_len = end - c;
    }
  }
  const std::uint64_t h = hash64(e->request);
  std::lock_guard lock(mu_);
  if (map_.size() >= capacity_) map_.clear();
  map_[h] = std::move(e);
}

}  // namespace dg::server::mock
