#include "enforcement/verdict_table.h"

#include "enforcement/policy.h"

namespace dg::enforcement {

verdict_table::verdict_table() {
  for (auto& s : shards_) s.current = std::make_shared<const map>();
}

verdict_view verdict_table::lookup(std::string_view client_id, micros now) const {
  verdict_view out;
  if (size_.load(std::memory_order_acquire) == 0) return out;
  const std::size_t h = string_hash{}(client_id);
  const shard& s = shards_[shard_of(h)];
  if (s.entries.load(std::memory_order_acquire) == 0) return out;
  table_entry e;
  {
    // The entry is copied out under the lock, so the map needs no reference
    // count of its own here: a writer's swap waits for this find to finish.
    std::lock_guard lock(s.mu);
    auto it = s.current->find(client_id);
    if (it == s.current->end()) return out;
    e = it->second;
  }
  out.risk = e.risk;
  out.listed = e.listed;
  // An expired override stops counting at once, before the policy's advance() removes it.
  if (e.overridden && (e.override_expires == 0 || now < e.override_expires)) {
    out.decided = e.override_to;
    out.overridden = true;
  } else {
    out.decided = e.base;
  }
  return out;
}

// Writers are serialised by the caller, so between the copy and the swap no
// other thread changes `current`: reading it without the lock is a read
// concurrent only with other reads.
void verdict_table::put(std::string_view client_id, const table_entry& e) {
  const std::size_t h = string_hash{}(client_id);
  shard& s = shards_[shard_of(h)];
  auto next = std::make_shared<map>(*s.current);
  auto [it, inserted] = next->insert_or_assign(std::string(client_id), e);
  (void)it;
  const std::size_t n = next->size();
  std::shared_ptr<const map> old = std::move(next);
  {
    std::lock_guard lock(s.mu);
    s.current.swap(old);
  }
  // `old` (the previous map) is freed outside the lock.
  s.entries.store(n, std::memory_order_release);
  if (inserted) size_.fetch_add(1, std::memory_order_acq_rel);
}

void verdict_table::erase(std::string_view client_id) {
  const std::size_t h = string_hash{}(client_id);
  shard& s = shards_[shard_of(h)];
  if (s.current->find(client_id) == s.current->end()) return;
  auto next = std::make_shared<map>(*s.current);
  next->erase(next->find(client_id));
  const std::size_t n = next->size();
  std::shared_ptr<const map> old = std::move(next);
  {
    std::lock_guard lock(s.mu);
    s.current.swap(old);
  }
  s.entries.store(n, std::memory_order_release);
  size_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace dg::enforcement
