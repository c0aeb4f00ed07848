#include "common/thread_role.h"

#include <pthread.h>
#include <sched.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

namespace dg {
namespace {

struct observed {
  int policy = -1;
  std::string name;
};

// Starts a thread, gives it `role`, and reads back what the thread itself sees.
observed run_as(thread_role role, const char* name) {
  std::atomic<bool> go{false};
  observed seen;
  std::thread t([&] {
    while (!go.load()) std::this_thread::yield();
    sched_param p{};
    pthread_getschedparam(pthread_self(), &seen.policy, &p);
    char buf[16] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    seen.name = buf;
  });
  set_thread_role(t, name, role);
  go.store(true);
  t.join();
  return seen;
}

TEST(thread_role, background_threads_are_named_and_batch_scheduled) {
  const observed o = run_as(thread_role::background, "dg-analyzer");
  EXPECT_EQ(o.name, "dg-analyzer");
  EXPECT_EQ(o.policy, SCHED_BATCH);
}

TEST(thread_role, request_path_threads_keep_the_normal_policy) {
  const observed o = run_as(thread_role::request_path, "dg-io-0");
  EXPECT_EQ(o.name, "dg-io-0");
  EXPECT_EQ(o.policy, SCHED_OTHER);
}

}  // namespace
}  // namespace dg
