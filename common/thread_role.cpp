#include "common/thread_role.h"

#include <pthread.h>
#include <sched.h>

namespace dg {

void set_thread_role(std::thread& t, const char* name, thread_role role) {
  pthread_setname_np(t.native_handle(), name);
  if (role == thread_role::background) {
    sched_param p{};
    p.sched_priority = 0;  // the only priority SCHED_BATCH has
    pthread_setschedparam(t.native_handle(), SCHED_BATCH, &p);
  }
}

}  // namespace dg
