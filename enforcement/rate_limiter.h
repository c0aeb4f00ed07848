// rate_limiter: per-client token buckets on requests and on tokens per minute.
// The caller chooses the limits of each request (base limits for everyone,
// shrunk as a throttled client's risk rises); the buckets refill continuously
// and hold burst_seconds of their rate. Tokens are reserved at admission
// (estimated prompt tokens + max_tokens) and settled against the real usage
// when the response ends; a bucket may go into debt when a request costs more
// than it reserved, which delays the client's next requests.
//
// Memory is bounded: a client whose buckets are full again is forgotten (an
// absent client has full buckets), and beyond max_clients the idlest are
// evicted first.
//
// Thread safety: every method may be called from any thread; the clients are
// spread over shards, each with its own mutex held for a few hundred ns.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "enforcement/policy_options.h"

namespace dg::enforcement {

// The outcome of acquire(), with what the x-ratelimit-* headers report.
struct limit_state {
  bool allowed = true;
  std::string_view limited_by;     // "requests" or "tokens" when refused
  std::int64_t retry_after_ms = 0; // when refused: until the limiting bucket has room
  // Per-minute limits (0 = unlimited), what is left, and ms until the bucket is full.
  double limit_requests = 0, remaining_requests = 0;
  double limit_tokens = 0, remaining_tokens = 0;
  std::int64_t reset_requests_ms = 0, reset_tokens_ms = 0;
};

class rate_limiter {
 public:
  explicit rate_limiter(const rate_limit_options& options);
  ~rate_limiter();
  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  // Takes one request and `tokens` tokens from the client's buckets under
  // `limits`, or refuses and takes nothing. Unlimited limits track nothing.
  limit_state acquire(std::string_view client_id, const bucket_limits& limits,
                      std::uint32_t tokens, micros now);
  // Returns reserved - actual tokens to the bucket (negative = charges more).
  void settle(std::string_view client_id, std::uint32_t reserved, std::uint32_t actual, micros now);

  std::size_t clients() const;

  // Config reload: new burst_seconds and max_clients, keeping every bucket
  // (a smaller burst caps the levels at the next acquire).
  void reconfigure(const rate_limit_options& options);

 private:
  struct bucket {
    double level = 0;     // tokens (or requests) available; negative = debt
    double capacity = 0;
    double rate_per_us = 0;
  };
  struct client {
    bucket requests, tokens;
    micros updated = 0;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Each shard keeps its own copy of the settings it reads, under its mutex, so
  // that a reconfigure takes one shard's lock at a time (never all at once).
  struct alignas(64) shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, client, string_hash, std::equal_to<>> clients;
    double burst_seconds = 0;
    std::size_t cap = 0;  // clients kept before eviction
  };
  static constexpr std::size_t shard_count = 64;

  static void configure(bucket& b, double per_minute, double burst_seconds);
  static void refill(bucket& b, micros elapsed);
  static bool full(const client& c, micros now);
  static void evict(shard& s, micros now);
  static void apply(shard& s, const rate_limit_options& options);

  std::array<shard, shard_count> shards_;
};

// OpenAI's duration format for x-ratelimit-reset-*: "20ms", "1s", "6m0s", "1h2m3s".
std::string format_reset(std::int64_t ms);

}  // namespace dg::enforcement
