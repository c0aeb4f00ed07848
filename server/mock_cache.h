// mock_cache: remembers the JSON answers of mock-upstream by request, so that a
// benchmark's repeated requests cost the mock a hash and a copy instead of new
// prose, and the proxy under test, not the mock, is what gets measured. The
// answers are deterministic anyway; on every hit the "id" and "created" (or
// "created_at") fields are rewritten, so that answers stay distinct as the
// API's are. Streams are never cached (they are produced lazily).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/mock_answer.h"

namespace dg::server::mock {

class answer_cache {
 public:
  // At most `capacity` answers; when full, the cache starts over (a benchmark
  // repeats a few requests; anything else was not going to hit anyway).
  explicit answer_cache(std::size_t capacity) : capacity_(capacity) {}

  // The remembered answer to this exact request, with a fresh id and created.
  std::optional<reply> find(std::string_view method, std::string_view target, std::string_view body,
                            const request_context& ctx) const;
  // Remembers `r` if it is a 200 JSON answer.
  void remember(std::string_view method, std::string_view target, std::string_view body, const reply& r);

 private:
  struct entry {
    std::string request;  // method, target and body: compared on a hit
    std::string body;
    std::size_t id_pos = std::string::npos;  // the id's 24 hex digits
    std::size_t created_pos = std::string::npos;
    std::size_t created_len = 0;
  };
  static std::string request_key(std::string_view method, std::string_view target, std::string_view body);

  std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<const entry>> map_;  // REQUIRES: mu_ held
};

}  // namespace dg::server::mock
