#include "enforcement/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dg::enforcement {

rate_limiter::rate_limiter(const rate_limit_options& options) {
  for (auto& s : shards_) apply(s, options);
}

rate_limiter::~rate_limiter() = default;

void rate_limiter::apply(shard& s, const rate_limit_options& options) {
  s.burst_seconds = options.burst_seconds;
  s.cap = std::max<std::size_t>(16, options.max_clients / shard_count);
}

void rate_limiter::reconfigure(const rate_limit_options& options) {
  // A client lives in one shard, so shards need not change together: one lock
  // at a time (holding all 64 at once also overflowed TSan's lock tracking).
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    apply(s, options);
  }
}

void rate_limiter::configure(bucket& b, double per_minute, double burst_seconds) {
  // Capacity: burst_seconds of the rate, at least one unit so a slow limit still admits.
  const double cap = per_minute <= 0 ? 0 : std::max(1.0, per_minute * burst_seconds / 60.0);
  if (b.capacity == 0 && b.rate_per_us == 0) b.level = cap;  // a new bucket starts full
  b.capacity = cap;
  b.rate_per_us = per_minute / 60e6;
  b.level = std::min(b.level, cap);  // a lower limit (throttle) takes effect at once
}

void rate_limiter::refill(bucket& b, micros elapsed) {
  if (elapsed > 0) b.level = std::min(b.capacity, b.level + b.rate_per_us * static_cast<double>(elapsed));
}

bool rate_limiter::full(const client& c, micros now) {
  auto full_at = [&](const bucket& b) {
    if (b.rate_per_us <= 0) return true;
    return b.level + b.rate_per_us * static_cast<double>(now - c.updated) >= b.capacity;
  };
  return full_at(c.requests) && full_at(c.tokens);
}

void rate_limiter::evict(shard& s, micros now) {
  // First the clients an absent entry would describe exactly (full buckets) ...
  std::erase_if(s.clients, [&](const auto& kv) { return full(kv.second, now); });
  if (s.clients.size() <= s.cap) return;
  // ... then the idlest half: they lose their debt, which is the price of bounded memory.
  std::vector<micros> times;
  times.reserve(s.clients.size());
  for (const auto& kv : s.clients) times.push_back(kv.second.updated);
  auto mid = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), mid, times.end());
  const micros cut = *mid;
  std::erase_if(s.clients, [&](const auto& kv) { return kv.second.updated <= cut; });
}

namespace {
std::int64_t ms_until(double need, double rate_per_us) {
  if (need <= 0) return 0;
  if (rate_per_us <= 0) return 0;
  return static_cast<std::int64_t>(std::ceil(need / rate_per_us / 1000.0));
}
}  // namespace

limit_state rate_limiter::acquire(std::string_view client_id, const bucket_limits& limits,
                                  std::uint32_t tokens, micros now) {
  limit_state out;
  out.limit_requests = limits.requests_per_minute;
  out.limit_tokens = limits.tokens_per_minute;
  if (limits.requests_per_minute <= 0 && limits.tokens_per_minute <= 0) return out;

  shard& s = shards_[std::hash<std::string_view>{}(client_id) % shard_count];
  std::lock_guard lock(s.mu);
  auto it = s.clients.find(client_id);
  if (it == s.clients.end()) {
    if (s.clients.size() >= s.cap) evict(s, now);
    it = s.clients.emplace(std::string(client_id), client{}).first;
    it->second.updated = now;
  }
  client& c = it->second;
  const micros elapsed = now - c.updated;
  refill(c.requests, elapsed);
  refill(c.tokens, elapsed);
  c.updated = std::max(c.updated, now);
  configure(c.requests, limits.requests_per_minute, s.burst_seconds);
  configure(c.tokens, limits.tokens_per_minute, s.burst_seconds);

  // A request larger than the whole bucket passes when the bucket is full (and leaves debt).
  const double need_tokens = std::min<double>(tokens, c.tokens.capacity);
  const bool req_ok = c.requests.capacity == 0 || c.requests.level >= 1.0;
  const bool tok_ok = c.tokens.capacity == 0 || c.tokens.level >= need_tokens;
  out.allowed = req_ok && tok_ok;
  if (out.allowed) {
    if (c.requests.capacity > 0) c.requests.level -= 1.0;
    if (c.tokens.capacity > 0) c.tokens.level -= tokens;
  } else {
    out.limited_by = !req_ok ? "requests" : "tokens";
    out.retry_after_ms = !req_ok ? ms_until(1.0 - c.requests.level, c.requests.rate_per_us)
                                 : ms_until(need_tokens - c.tokens.level, c.tokens.rate_per_us);
    if (!req_ok && !tok_ok)
      out.retry_after_ms = std::max(out.retry_after_ms,
                                    ms_until(need_tokens - c.tokens.level, c.tokens.rate_per_us));
  }
  out.remaining_requests = std::max(0.0, std::floor(c.requests.level));
  out.remaining_tokens = std::max(0.0, std::floor(c.tokens.level));
  out.reset_requests_ms = ms_until(c.requests.capacity - c.requests.level, c.requests.rate_per_us);
  out.reset_tokens_ms = ms_until(c.tokens.capacity - c.tokens.level, c.tokens.rate_per_us);
  return out;
}

void rate_limiter::settle(std::string_view client_id, std::uint32_t reserved, std::uint32_t actual,
                          micros now) {
  if (reserved == actual) return;
  shard& s = shards_[std::hash<std::string_view>{}(client_id) % shard_count];
  std::lock_guard lock(s.mu);
  auto it = s.clients.find(client_id);
  if (it == s.clients.end()) return;  // evicted or never limited: nothing to correct
  client& c = it->second;
  if (c.tokens.capacity <= 0) return;
  refill(c.requests, now - c.updated);
  refill(c.tokens, now - c.updated);
  c.updated = std::max(c.updated, now);
  c.tokens.level = std::min(c.tokens.capacity,
                            c.tokens.level + static_cast<double>(reserved) - static_cast<double>(actual));
}

std::size_t rate_limiter::clients() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.clients.size();
  }
  return n;
}

std::string format_reset(std::int64_t ms) {
  if (ms < 1000) return std::to_string(std::max<std::int64_t>(0, ms)) + "ms";
  std::int64_t s = (ms + 999) / 1000;
  const std::int64_t h = s / 3600, m = (s % 3600) / 60;
  s %= 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

}  // namespace dg::enforcement
