#include "server/live_pipeline.h"

#include <malloc.h>

#include <chrono>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/thread_role.h"
#include "server/config_reload.h"
#include "server/identity.h"
#include "server/ops_metrics.h"
#include "storage/privacy.h"

namespace dg::server {
namespace {

// How often the housekeeper saves clients that only saw new events (verdict
// and override changes are saved on the next tick, within a second).
constexpr auto save_interval = std::chrono::seconds(5);
// At most this many clients are saved per tick, so the analyzer thread, which
// shares the engine lock with save(), is never held off for long.
constexpr std::size_t max_saves_per_tick = 20000;
// glibc keeps the memory freed after a burst in its arenas: in the 30-minute soak RSS stepped
// up 20-30 MiB after each RocksDB write stall (the storage queue filling with encoded events)
// and never came down, although the memory was free. Handing free pages back to the system
// this often keeps RSS near what is in use (from this thread, off the request path).
constexpr auto trim_interval = std::chrono::seconds(30);

}  // namespace

live_pipeline::live_pipeline(gateway& gw, const clock_source& clock) : gw_(gw), clock_(clock) {}

live_pipeline::~live_pipeline() { stop(); }

status live_pipeline::create(gateway& gw, const clock_source& clock,
                             std::function<reload_result()> reload,
                             std::unique_ptr<live_pipeline>& out) {
  std::unique_ptr<live_pipeline> p(new live_pipeline(gw, clock));
  status s = p->build(std::move(reload));
  if (!s) return s;
  out = std::move(p);
  return status::ok();
}

status live_pipeline::build(std::function<reload_result()> reload) {
  const gateway_config& cfg = gw_.config();

  store_ = std::make_unique<storage::event_store>(cfg.storage, &gw_.registry(), &clock_);
  if (status s = store_->open(); !s) return s;

  // Raw keys in the allow and deny lists become the ids the gateway would give
  // them, whichever way the client presents them.
  policy_ = std::make_unique<enforcement::policy>(cfg.policy, key_hasher());

  if (status s = load_or_create_secret(secret_path(cfg), identity_secret_); !s) return s;
  const std::string& identity_secret = identity_secret_;
  std::vector<std::pair<std::uint32_t, std::string>> keys;
  if (status s = enforcement::load_watermark_keys(
          cfg.policy.watermark, enforcement::derive_watermark_secret(identity_secret), keys);
      !s) {
    return s;
  }
  std::shared_ptr<const enforcement::synonym_table> table;
  if (status s = enforcement::load_synonym_table(cfg.policy.watermark, table); !s) return s;
  request_policy_ = std::make_unique<enforcement::live_policy>(
      cfg.policy, *policy_, std::move(table), keys.front().second, keys.front().first,
      &gw_.registry());

  policy_->set_audit_sink([this](const pb::AuditEntry& e) {
    if (status s = store_->append_audit(e); !s) {
      log::warn("audit entry not stored", {{"error", s.to_string()}});
    }
    request_policy_->count_verdict_change();
    mark_dirty(e.client_id(), true);
  });
  policy_->set_override_sink(
      [this](const std::string& client, const std::optional<enforcement::override_entry>&) {
        mark_dirty(client, true);
      });

  const storage::storage_options storage_opts = cfg.storage;
  analyzer_ = std::make_unique<detectors::analyzer>(
      cfg.detectors, policy_.get(), &gw_.registry(),
      [this, storage_opts](pb::QueryEvent&& ev) {
        mark_dirty(ev.client_id(), false);
        storage::apply_prompt_privacy(ev, storage_opts);
        store_->append(std::move(ev));
      });

  // Verdicts, overrides and detector state from before the restart.
  std::size_t restored = 0;
  analyzer_->with_engine([&](detectors::engine& e) {
    const status s = store_->load_clients([&](pb::ClientRecord&& r) {
      if (!e.restore(r)) policy_->restore(r);  // a record with only an override
      ++restored;
      return true;
    });
    if (!s) log::warn("client state not restored", {{"error", s.to_string()}});
  });
  if (restored > 0) log::info("clients restored", {{"clients", restored}});
  analyzer_->start();

  gw_.set_policy(request_policy_.get());
  gw_.set_event_sink(analyzer_.get());
  gw_.ready().add("storage", [this] { return store_->healthy() ? "" : store_->degraded_reason(); });

  ops_ = std::make_unique<ops_metrics>(gw_.registry(), clock_);
  if (!reload) reload = [this] { return this->reload(); };
  // One counted function for both ways in, so that each attempt counts once.
  auto counted = ops_->counted(std::move(reload));
  gw_.set_reload_handler([counted] {
    const reload_result r = counted();
    if (r.ok) {
      log::info("SIGHUP: config reloaded");
    } else {
      log::error("SIGHUP: reload refused, the running config stays", {{"errors", r.errors}});
    }
  });
  auto [api_status, api] = admin_api::create(cfg.admin.token_file, admin_sources_for(counted), clock_);
  if (!api_status) return api_status;
  admin_ = api;
  gw_.admin().route_prefix("/admin/", [a = admin_](const admin_http_request& r) {
    const admin_response out = a->handle({r.method, r.target, r.authorization, r.body});
    return admin_http_response{out.status, out.body, out.content_type, out.headers};
  });

  housekeeper_ = std::thread([this] { housekeeping(); });
  set_thread_role(housekeeper_, "dg-housekeeper", thread_role::background);
  return status::ok();
}

admin_sources live_pipeline::admin_sources_for(std::function<reload_result()> reload) {
  admin_sources src;
  src.clients = [this] { return analyzer_->reports(); };
  src.client = [this](std::string_view id) { return analyzer_->report(id); };
  src.clusters = [this] { return analyzer_->clusters(); };
  src.audit = [this](std::string_view id, std::size_t limit) {
    std::vector<pb::AuditEntry> out;
    store_->scan_audit(id, limit, [&](pb::AuditEntry&& e) {
      out.push_back(std::move(e));
      return true;
    });
    return out;
  };
  src.recent_events = [this](std::string_view id, std::size_t limit) {
    std::vector<pb::QueryEvent> out;
    store_->scan_client(id, storage::min_time, storage::max_time, limit, /*reverse=*/true,
                        [&](pb::QueryEvent&& e) {
                          out.push_back(std::move(e));
                          return true;
                        });
    return out;
  };
  src.stored_client = [this](std::string_view id) -> std::optional<pb::ClientRecord> {
    pb::ClientRecord r;
    if (!store_->get_client(id, r)) return std::nullopt;
    return r;
  };
  src.get_override = [this](std::string_view id) -> std::optional<verdict_override> {
    for (const auto& o : policy_->overrides()) {
      if (o.client_id == id) return verdict_override{o.to, o.expires_micros, o.reason, o.set_micros};
    }
    return std::nullopt;
  };
  src.set_override = [this](std::string_view id, const verdict_override& o) {
    return policy_->set_override(id, o.verdict, o.expires_micros, o.reason, clock_.now());
  };
  src.clear_override = [this](std::string_view id) {
    return policy_->clear_override(id, clock_.now(), "cleared through the admin API")
               ? status::ok()
               : status::not_found("no override for this client");
  };
  src.reload = std::move(reload);
  config_ = std::make_shared<const gateway_config>(gw_.config());
  src.config = [this] {
    std::lock_guard lock(config_mu_);
    return config_;
  };
  return src;
}

enforcement::policy::key_hasher live_pipeline::key_hasher() {
  return [this](std::string_view key) {
    const auto live = gw_.live();
    const identity_resolver& id = live->identity;
    std::vector<std::string> ids{id.client_id(credential_kind::bearer, key),
                                 id.client_id(credential_kind::api_key, key)};
    if (!live->cfg.identity.header.empty()) ids.push_back(id.client_id(credential_kind::header, key));
    return ids;
  };
}

reload_result live_pipeline::reload() {
  std::lock_guard lock(reload_mu_);
  reload_result r;
  const std::string& file = gw_.config().file;
  if (file.empty() || file.starts_with("<")) {
    r.errors.push_back("the gateway was started without --config: there is no file to reload");
    return r;
  }
  gateway_config next;
  if (!load_config_for_reload(file, next, r.errors)) return r;

  std::shared_ptr<const gateway_config> running;
  {
    std::lock_guard cl(config_mu_);
    running = config_;
  }
  for (const auto& key : restart_only_changes(*running, next)) {
    r.errors.push_back(file + ": key '" + key +
                       "' changed: it needs a restart to take effect; nothing was applied "
                       "(restore its running value to reload the rest)");
  }
  if (!r.errors.empty()) return r;

  // What can still fail (files the config names) is prepared before anything changes.
  std::vector<std::pair<std::uint32_t, std::string>> keys;
  if (status s = enforcement::load_watermark_keys(
          next.policy.watermark, enforcement::derive_watermark_secret(identity_secret_), keys);
      !s) {
    r.errors.push_back(file + ": policy.watermark: " + s.to_string());
    return r;
  }
  std::shared_ptr<const enforcement::synonym_table> table;
  if (status s = enforcement::load_synonym_table(next.policy.watermark, table); !s) {
    r.errors.push_back(file + ": policy.watermark.synonyms_file: " + s.to_string());
    return r;
  }

  // The request path first (the identity the key hasher reads), then the
  // verdicts, the request policy and the detectors.
  gw_.apply_config(next);
  policy_->reconfigure(next.policy, clock_.now());
  request_policy_->reconfigure(next.policy, std::move(table), keys.front().second, keys.front().first);
  analyzer_->with_engine([&](detectors::engine& e) { e.reconfigure(next.detectors); });
  const std::string mode = next.policy.mode;
  set_config(std::make_shared<const gateway_config>(std::move(next)));
  log::info("config reloaded", {{"file", file}, {"policy_mode", mode}});
  r.ok = true;
  return r;
}

void live_pipeline::mark_dirty(const std::string& id, bool urgent) {
  std::lock_guard lock(dirty_mu_);
  dirty_.insert(id);
  if (urgent) {
    urgent_.insert(id);
    wake_.notify_one();
  }
}

void live_pipeline::save_clients(const std::set<std::string>& ids) {
  std::vector<pb::ClientRecord> batch;
  batch.reserve(ids.size());
  for (const auto& id : ids) {
    if (auto r = analyzer_->save(id)) {
      batch.push_back(std::move(*r));
    } else {  // not seen by the engine (an override of a quiet client)
      pb::ClientRecord rec;
      rec.set_client_id(id);
      policy_->save(id, rec);
      batch.push_back(std::move(rec));
    }
  }
  if (batch.empty()) return;
  if (status s = store_->put_clients(batch); !s) {
    log::warn("client state not saved", {{"clients", batch.size()}, {"error", s.to_string()}});
  }
}

void live_pipeline::housekeeping() {
  auto last_save = std::chrono::steady_clock::now();
  auto last_trim = last_save;
  std::unique_lock lock(dirty_mu_);
  while (!stopping_.load()) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_.load()) break;
    const bool save_all_dirty = std::chrono::steady_clock::now() - last_save >= save_interval;
    std::set<std::string> to_save;
    if (save_all_dirty) {
      while (!dirty_.empty() && to_save.size() < max_saves_per_tick) {
        to_save.insert(dirty_.extract(dirty_.begin()));
      }
      last_save = std::chrono::steady_clock::now();
    }
    for (const auto& id : urgent_) {
      to_save.insert(id);
      dirty_.erase(id);
    }
    urgent_.clear();
    lock.unlock();

    policy_->advance(clock_.now());
    std::size_t clients = 0;
    analyzer_->with_engine([&](detectors::engine& e) { clients = e.client_count(); });
    request_policy_->refresh_gauges(clients);
    save_clients(to_save);
    if (std::chrono::steady_clock::now() - last_trim >= trim_interval) {
      ::malloc_trim(0);
      last_trim = std::chrono::steady_clock::now();
    }

    lock.lock();
  }
}

void live_pipeline::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(dirty_mu_);
    stopping_.store(true);
    wake_.notify_one();
  }
  if (housekeeper_.joinable()) housekeeper_.join();
  if (analyzer_) {
    analyzer_->stop();
    std::vector<std::string> ids;
    analyzer_->with_engine([&](detectors::engine& e) { ids = e.client_ids(); });
    std::set<std::string> chunk;
    for (auto& id : ids) {
      chunk.insert(std::move(id));
      if (chunk.size() == max_saves_per_tick) {
        save_clients(chunk);
        chunk.clear();
      }
    }
    {
      std::lock_guard lock(dirty_mu_);
      chunk.insert(urgent_.begin(), urgent_.end());  // overrides of clients the engine never saw
    }
    save_clients(chunk);
  }
  if (store_) store_->close();
}

}  // namespace dg::server
