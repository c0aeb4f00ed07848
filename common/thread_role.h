// Names the gateway's threads and tells the scheduler which ones a request waits for.
#pragma once

#include <thread>

namespace dg {

enum class thread_role {
  request_path,  // an I/O thread: a request waits whenever it waits
  background,    // analysis, storage, housekeeping: minutes of slack
};

// Names `t` (shown by top -H, used for per-thread CPU accounting; at most 15
// characters) and, for background threads, makes it SCHED_BATCH: it keeps its
// fair share of the CPU, so a busy gateway still analyses and records every
// event, but when it wakes it does not preempt an I/O thread, and a request
// no longer waits behind a batch of analysis on a machine with few cores.
// Best effort: a refused scheduling change leaves the thread as it was.
void set_thread_role(std::thread& t, const char* name, thread_role role);

}  // namespace dg
