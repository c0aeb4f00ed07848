// glibc malloc settings for a long-running gateway.
#pragma once

#include <cstddef>
#include <string>

namespace dg::server {

struct malloc_tuning {
  int arena_max = 0;       // 0 = left to glibc (or to the environment)
  int mmap_threshold = 0;  // bytes; 0 = left to glibc (or to the environment)
};

// What tune_malloc() would set, given the environment: an operator's
// MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES naming either
// setting wins, and that setting is left alone.
malloc_tuning malloc_tuning_for(std::size_t io_threads, const char* arena_env, const char* mmap_env,
                                const char* tunables_env);

// Applies malloc_tuning_for() from the process environment, before the
// threads start. Returns what was set, for the start-up log.
malloc_tuning tune_malloc(std::size_t io_threads);

}  // namespace dg::server
