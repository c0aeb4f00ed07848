#include "enforcement/policy.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "enforcement/verdict_table.h"

namespace dg::enforcement {

namespace {

constexpr std::array<verdict, 4> all_verdicts{verdict::allow, verdict::watermark, verdict::throttle,
                                              verdict::block};

pb::Verdict to_pb(verdict v) { return static_cast<pb::Verdict>(static_cast<int>(v)); }
verdict from_pb(pb::Verdict v) {
  const int i = static_cast<int>(v);
  return (i >= 0 && i <= 3) ? static_cast<verdict>(i) : verdict::allow;
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return buf;
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// What the writer side keeps about one client that is not plainly "allow".
struct client_state {
  verdict by_risk = verdict::allow;  // from the risk, with hysteresis
  micros since = 0;                  // when by_risk last changed
  double risk = 0;                   // last risk (decayed as of risk_ts)
  micros risk_ts = 0;
  std::optional<override_entry> ovr;
  std::string cluster;
  verdict in_force = verdict::allow;  // last verdict audited and published
  micros in_force_since = 0;
  std::optional<table_entry> published;  // what readers of the verdict table last got
};

// Whether readers must be given `e` in place of `was`: anything but the risk changed, or the risk
// moved by 0.01 (throttle rates scale with it at that resolution).
bool republish(const std::optional<table_entry>& was, const table_entry& e) {
  return !was || was->base != e.base || was->listed != e.listed || was->overridden != e.overridden ||
         was->override_to != e.override_to || was->override_expires != e.override_expires ||
         std::fabs(was->risk - e.risk) >= 0.01;
}

}  // namespace

class policy::impl {
 public:
  using id_set = std::unordered_set<std::string, string_hash, std::equal_to<>>;

  impl(const policy_options& o, key_hasher hasher) : opt_(o), hasher_(std::move(hasher)) {
    build_lists(o, allow_, deny_);
    // The deny list wins over the allow list for a client on both.
    for (const auto& id : allow_) {
      if (in(deny_, id)) continue;
      publish_listed(id, verdict::allow);
    }
    for (const auto& id : deny_) publish_listed(id, verdict::block);
  }

  // The client ids of the allow and deny lists: ids as given, raw keys hashed.
  void build_lists(const policy_options& o, id_set& allow, id_set& deny) const {
    auto add = [&](const std::vector<std::string>& ids, const std::vector<std::string>& keys,
                   id_set& out, const char* what) {
      for (const auto& id : ids) out.insert(id);
      if (!keys.empty() && !hasher_) {
        log::warn("policy: key list ignored, no identity function", {{"list", what}});
        return;
      }
      for (const auto& k : keys)
        for (auto& id : hasher_(k)) out.insert(std::move(id));
    };
    add(o.allow_clients, o.allow_keys, allow, "allow");
    add(o.deny_clients, o.deny_keys, deny, "deny");
  }

  // Whether `id` is in `ids`. The lists are usually empty, and a lookup in an empty set would
  // still hash the id: the policy asks several times per rescore of every flagged client.
  static bool in(const id_set& ids, std::string_view id) { return !ids.empty() && ids.count(id) != 0; }

  static std::optional<verdict> list_verdict_in(const id_set& allow, const id_set& deny,
                                                std::string_view id) {
    if (in(deny, id)) return verdict::block;
    if (in(allow, id)) return verdict::allow;
    return std::nullopt;
  }

  double threshold(verdict v) const {
    switch (v) {
      case verdict::watermark: return opt_.watermark_threshold;
      case verdict::throttle: return opt_.throttle_threshold;
      case verdict::block: return opt_.block_threshold;
      case verdict::allow: break;
    }
    return 0;
  }

  verdict level_of(double risk) const {
    verdict out = verdict::allow;
    for (verdict v : all_verdicts)
      if (v != verdict::allow && risk >= threshold(v)) out = v;
    return out;
  }

  // Hysteresis: rise at once; fall only below threshold - margin and after the hold time.
  verdict next_by_risk(verdict cur, double risk, micros since, micros now) const {
    const verdict up = level_of(risk);
    if (up > cur) return up;
    verdict k = cur;
    while (k != verdict::allow && risk < threshold(k) - opt_.hysteresis_margin)
      k = static_cast<verdict>(static_cast<int>(k) - 1);
    if (k < cur && now - since >= opt_.min_hold_s * 1'000'000) return k;
    return cur;
  }

  bool override_live(const client_state& s, micros now) const {
    return s.ovr && (s.ovr->expires_micros == 0 || now < s.ovr->expires_micros);
  }

  // The verdict in force and where it comes from.
  std::pair<verdict, std::string_view> in_force(std::string_view id, const client_state& s,
                                                micros now) const {
    if (override_live(s, now)) return {s.ovr->to, "override"};
    if (in(deny_, id)) return {verdict::block, "deny_list"};
    if (in(allow_, id)) return {verdict::allow, "allow_list"};
    return {s.by_risk, "policy"};
  }

  bool listed(std::string_view id) const { return in(deny_, id) || in(allow_, id); }

  verdict list_verdict(std::string_view id) const {
    return in(deny_, id) ? verdict::block : verdict::allow;
  }

  void publish_listed(const std::string& id, verdict v) {
    table_entry e;
    e.base = v;
    e.listed = true;
    table_.put(id, e);
    counts_[static_cast<int>(v)].fetch_add(1, std::memory_order_relaxed);
  }

  // Brings the verdict in force up to date (auditing a change), republishes the
  // client and forgets it when nothing distinguishes it from an unknown client.
  // REQUIRES: mu_ held.
  decision settle(const std::string& id, client_state& s, micros now, std::string_view cause,
                  double risk, std::span<const pb::DetectorScore> scores,
                  std::span<const std::string> reasons, std::vector<std::string> extra,
                  const risk_input* lazy = nullptr) {
    auto [v, source] = in_force(id, s, now);
    if (source == "policy" && cause == "decay") source = "decay";
    if (cause == "override") source = "override";
    decision d{v, s.in_force, v != s.in_force, source};
    if (d.changed) {
      std::vector<pb::DetectorScore> asked_scores;
      std::vector<std::string> asked_reasons;
      if (lazy && lazy->explain) {
        lazy->explain(asked_scores, asked_reasons);
        scores = asked_scores;
        reasons = asked_reasons;
      }
      pb::AuditEntry a;
      a.set_ts_micros(now);
      a.set_client_id(id);
      a.set_from(to_pb(d.from));
      a.set_to(to_pb(d.to));
      a.set_risk(risk);
      for (const auto& sc : scores) *a.add_scores() = sc;
      for (auto& r : extra) a.add_reasons(std::move(r));
      for (const auto& r : reasons) a.add_reasons(r);
      a.set_source(std::string(source));
      a.set_cluster(s.cluster);
      counts_[static_cast<int>(s.in_force)].fetch_sub(1, std::memory_order_relaxed);
      counts_[static_cast<int>(v)].fetch_add(1, std::memory_order_relaxed);
      s.in_force = v;
      s.in_force_since = now;
      if (audit_) audit_(a);
    }
    const bool plain = !s.ovr && s.by_risk == verdict::allow && !listed(id);
    if (plain) {
      table_.erase(id);
      counts_[static_cast<int>(s.in_force)].fetch_sub(1, std::memory_order_relaxed);
      // By iterator: `id` may be the key of the very element erased (for_each_client passes it).
      clients_.erase(clients_.find(id));
      return d;
    }
    // Republish only when what readers see changes: a write copies the table's shard, and the
    // policy settles every tracked client on every advance.
    table_entry e;
    e.base = listed(id) ? list_verdict(id) : s.by_risk;
    e.risk = s.risk;
    e.listed = listed(id);
    e.overridden = s.ovr.has_value();
    if (s.ovr) {
      e.override_to = s.ovr->to;
      e.override_expires = s.ovr->expires_micros;
    }
    if (republish(s.published, e)) {
      table_.put(id, e);
      s.published = e;
    }
    return d;
  }

  // Finds or creates a client's state. A new one starts at the verdict in
  // force for an untracked client (allow, or its list's verdict).
  // Calls fn(id, state) for every tracked client. settle() may forget the client it is given;
  // erasing an element leaves the iterators to the others valid, so the next one is taken first.
  // REQUIRES: mu_ held.
  template <class Fn>
  void for_each_client(Fn fn) {
    for (auto it = clients_.begin(); it != clients_.end();) {
      auto next = std::next(it);
      fn(it->first, it->second);
      it = next;
    }
  }

  client_state& state_of(std::string_view id, micros now, bool& created) {
    auto it = clients_.find(id);
    created = it == clients_.end();
    if (!created) return it->second;
    client_state s;
    s.in_force = listed(id) ? list_verdict(id) : verdict::allow;
    s.in_force_since = now;
    s.since = now;
    if (!listed(id)) counts_[static_cast<int>(s.in_force)].fetch_add(1, std::memory_order_relaxed);
    return clients_.emplace(std::string(id), std::move(s)).first->second;
  }

  policy_options opt_;
  key_hasher hasher_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, client_state, string_hash, std::equal_to<>> clients_;
  id_set allow_, deny_;
  verdict_table table_;
  audit_sink audit_;
  override_sink override_sink_;
  std::array<std::atomic<std::int64_t>, 4> counts_{};
};

policy::policy(const policy_options& options, key_hasher hasher)
    : impl_(std::make_unique<impl>(options, std::move(hasher))) {}

policy::~policy() = default;

decision policy::update(const risk_input& in) {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  const double risk = std::clamp(std::isfinite(in.risk) ? in.risk : 0.0, 0.0, 1.0);
  auto it = m.clients_.find(in.client_id);
  if (it == m.clients_.end() && risk < m.opt_.watermark_threshold && !m.listed(in.client_id)) {
    return decision{verdict::allow, verdict::allow, false, "policy"};  // the common case: nothing to keep
  }
  bool created = false;
  client_state& s = m.state_of(in.client_id, in.ts_micros, created);
  const verdict before = s.by_risk;
  s.risk = risk;
  s.risk_ts = in.ts_micros;
  if (!in.cluster.empty()) s.cluster = std::string(in.cluster);
  s.by_risk = m.next_by_risk(s.by_risk, risk, s.since, in.ts_micros);
  std::vector<std::string> extra;
  if (s.by_risk != before) {
    s.since = in.ts_micros;
    if (s.by_risk > before) {
      extra.push_back("risk " + fmt(risk) + " reached the " + std::string(to_string(s.by_risk)) +
                      " threshold " + fmt(m.threshold(s.by_risk)));
    } else {
      extra.push_back("risk " + fmt(risk) + " fell below the " + std::string(to_string(before)) +
                      " threshold " + fmt(m.threshold(before)) + " minus margin " +
                      fmt(m.opt_.hysteresis_margin));
    }
  }
  return m.settle(std::string(in.client_id), s, in.ts_micros, created ? "new" : "risk", risk,
                  in.scores, in.reasons, std::move(extra), &in);
}

void policy::advance(micros now) {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  m.for_each_client([&](const std::string& id, client_state& s) {
    std::vector<std::string> extra;
    std::string_view cause = "decay";
    if (s.ovr && s.ovr->expires_micros != 0 && now >= s.ovr->expires_micros) {
      extra.push_back("override to " + std::string(to_string(s.ovr->to)) + " expired (" +
                      s.ovr->reason + ")");
      s.ovr.reset();
      cause = "override";
      if (m.override_sink_) m.override_sink_(id, std::nullopt);
    }
    if (m.opt_.decay_half_life_s > 0 && now > s.risk_ts) {
      const double half = static_cast<double>(m.opt_.decay_half_life_s) * 1e6;
      s.risk *= std::exp2(-static_cast<double>(now - s.risk_ts) / half);
      s.risk_ts = now;
      const verdict before = s.by_risk;
      s.by_risk = m.next_by_risk(s.by_risk, s.risk, s.since, now);
      if (s.by_risk != before) {
        s.since = now;
        extra.push_back("risk decayed to " + fmt(s.risk) + ", below the " +
                        std::string(to_string(before)) + " threshold " + fmt(m.threshold(before)) +
                        " minus margin " + fmt(m.opt_.hysteresis_margin));
      }
    }
    m.settle(id, s, now, cause, s.risk, {}, {}, std::move(extra));
  });
}

status policy::set_override(std::string_view client_id, verdict to, micros expires_micros,
                            std::string reason, micros now) {
  if (client_id.empty()) return status::invalid_argument("override: empty client id");
  if (expires_micros != 0 && expires_micros <= now)
    return status::invalid_argument("override: expiry is not in the future");
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  bool created = false;
  client_state& s = m.state_of(client_id, now, created);
  s.ovr = override_entry{std::string(client_id), to, expires_micros, reason, now};
  if (m.override_sink_) m.override_sink_(std::string(client_id), s.ovr);
  std::vector<std::string> extra{"manual override to " + std::string(to_string(to)) + ": " +
                                 reason};
  m.settle(std::string(client_id), s, now, "override", s.risk, {}, {}, std::move(extra));
  return status::ok();
}

bool policy::clear_override(std::string_view client_id, micros now, std::string_view reason) {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  auto it = m.clients_.find(client_id);
  if (it == m.clients_.end() || !it->second.ovr) return false;
  client_state& s = it->second;
  s.ovr.reset();
  if (m.override_sink_) m.override_sink_(std::string(client_id), std::nullopt);
  std::vector<std::string> extra{"manual override cleared" +
                                 (reason.empty() ? std::string() : ": " + std::string(reason))};
  m.settle(std::string(client_id), s, now, "override", s.risk, {}, {}, std::move(extra));
  return true;
}

void policy::restore(const pb::ClientRecord& r) {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  const micros now = std::max(r.verdict_since_micros(), r.last_seen_micros());
  const bool has_override =
      r.override_active() &&
      (r.override_expires_micros() == 0 || r.override_expires_micros() > now);
  const double risk = std::clamp(r.risk(), 0.0, 1.0);
  verdict by_risk = has_override || m.listed(r.client_id()) ? m.level_of(risk) : from_pb(r.verdict());
  if (!has_override && by_risk == verdict::allow && risk < m.opt_.watermark_threshold) return;
  bool created = false;
  client_state& s = m.state_of(r.client_id(), now, created);
  s.risk = risk;
  s.risk_ts = r.last_seen_micros();
  s.by_risk = by_risk;
  s.since = r.verdict_since_micros();
  if (has_override) {
    s.ovr = override_entry{r.client_id(), from_pb(r.override_verdict()), r.override_expires_micros(),
                           r.override_reason(), now};
  }
  // A restore is not a change: bring in_force in line without an audit entry.
  const verdict v = m.in_force(r.client_id(), s, now).first;
  m.counts_[static_cast<int>(s.in_force)].fetch_sub(1, std::memory_order_relaxed);
  m.counts_[static_cast<int>(v)].fetch_add(1, std::memory_order_relaxed);
  s.in_force = v;
  m.settle(r.client_id(), s, now, "restore", risk, {}, {}, {});
}

void policy::reconfigure(const policy_options& options, micros now, key_hasher hasher) {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  if (hasher) m.hasher_ = std::move(hasher);
  impl::id_set allow, deny;
  m.build_lists(options, allow, deny);

  // Listed clients without state (never scored): their entry follows their
  // list. Collected before the swap, applied after, each by one table write
  // (put over the old entry, never erase-then-put), so a reader never sees a
  // client that stays listed as unlisted.
  struct list_change {
    std::string id;
    std::optional<verdict> from, to;
  };
  std::vector<list_change> changes;
  auto collect = [&](const impl::id_set& ids) {
    for (const auto& id : ids) {
      if (m.clients_.count(id)) continue;
      auto from = impl::list_verdict_in(m.allow_, m.deny_, id);
      auto to = impl::list_verdict_in(allow, deny, id);
      if (from == to) continue;
      if (std::any_of(changes.begin(), changes.end(), [&](const list_change& c) { return c.id == id; }))
        continue;
      changes.push_back({id, from, to});
    }
  };
  collect(m.allow_);
  collect(m.deny_);
  collect(allow);
  collect(deny);

  m.opt_ = options;
  m.allow_.swap(allow);
  m.deny_.swap(deny);

  for (const auto& c : changes) {
    if (c.to) {
      table_entry e;
      e.base = *c.to;
      e.listed = true;
      m.table_.put(c.id, e);
    } else {
      m.table_.erase(c.id);
    }
    if (c.from) m.counts_[static_cast<int>(*c.from)].fetch_sub(1, std::memory_order_relaxed);
    if (c.to) m.counts_[static_cast<int>(*c.to)].fetch_add(1, std::memory_order_relaxed);
    const verdict from = c.from.value_or(verdict::allow);
    const verdict to = c.to.value_or(verdict::allow);
    if (from == to || !m.audit_) continue;
    pb::AuditEntry a;
    a.set_ts_micros(now);
    a.set_client_id(c.id);
    a.set_from(to_pb(from));
    a.set_to(to_pb(to));
    a.set_source(c.to ? (*c.to == verdict::block ? "deny_list" : "allow_list") : "policy");
    a.add_reasons(c.to ? std::string("config reloaded: on the ") +
                             (*c.to == verdict::block ? "deny" : "allow") + " list"
                       : std::string("config reloaded: no longer on the ") +
                             (*c.from == verdict::block ? "deny" : "allow") + " list");
    m.audit_(a);
  }

  // Tracked clients: the new thresholds and lists apply at once.
  m.for_each_client([&](const std::string& id, client_state& s) {
    const verdict before = s.by_risk;
    s.by_risk = m.next_by_risk(s.by_risk, s.risk, s.since, now);
    std::vector<std::string> extra;
    if (s.by_risk != before) {
      s.since = now;
      extra.push_back("config reloaded: risk " + fmt(s.risk) + " against the " +
                      std::string(to_string(s.by_risk > before ? s.by_risk : before)) +
                      " threshold " + fmt(m.threshold(s.by_risk > before ? s.by_risk : before)));
    } else {
      extra.push_back("config reloaded");
    }
    m.settle(id, s, now, "reconfigure", s.risk, {}, {}, std::move(extra));
  });
}

void policy::set_audit_sink(audit_sink sink) {
  std::lock_guard lock(impl_->mu_);
  impl_->audit_ = std::move(sink);
}

void policy::set_override_sink(override_sink sink) {
  std::lock_guard lock(impl_->mu_);
  impl_->override_sink_ = std::move(sink);
}

verdict_view policy::lookup(std::string_view client_id, micros now) const {
  return impl_->table_.lookup(client_id, now);
}

void policy::save(std::string_view client_id, pb::ClientRecord& record) const {
  std::lock_guard lock(impl_->mu_);
  auto& m = *impl_;
  auto it = m.clients_.find(client_id);
  if (it == m.clients_.end()) {
    record.set_verdict(to_pb(m.listed(client_id) ? m.list_verdict(client_id) : verdict::allow));
    record.set_override_active(false);
    return;
  }
  const client_state& s = it->second;
  record.set_verdict(to_pb(s.in_force));
  record.set_verdict_since_micros(s.in_force_since);
  record.set_risk(s.risk);
  record.set_override_active(s.ovr.has_value());
  if (s.ovr) {
    record.set_override_verdict(to_pb(s.ovr->to));
    record.set_override_expires_micros(s.ovr->expires_micros);
    record.set_override_reason(s.ovr->reason);
  } else {
    record.set_override_verdict(pb::VERDICT_ALLOW);
    record.set_override_expires_micros(0);
    record.clear_override_reason();
  }
}

std::vector<override_entry> policy::overrides() const {
  std::lock_guard lock(impl_->mu_);
  std::vector<override_entry> out;
  for (const auto& [id, s] : impl_->clients_)
    if (s.ovr) out.push_back(*s.ovr);
  std::sort(out.begin(), out.end(),
            [](const override_entry& a, const override_entry& b) { return a.client_id < b.client_id; });
  return out;
}

std::vector<std::uint64_t> policy::counts() const {
  std::vector<std::uint64_t> out;
  for (const auto& c : impl_->counts_)
    out.push_back(static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.load(std::memory_order_relaxed))));
  return out;
}

policy_options policy::options() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->opt_;
}

}  // namespace dg::enforcement
