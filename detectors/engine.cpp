#include "detectors/engine.h"

#include <algorithm>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/crypto.h"
#include "detectors/cadence.h"
#include "detectors/conversation.h"
#include "detectors/coverage.h"
#include "detectors/extraction.h"
#include "detectors/features.h"
#include "detectors/linking.h"
#include "detectors/mmd.h"
#include "detectors/population.h"
#include "detectors/prada.h"
#include "detectors/reasoning.h"
#include "detectors/scoring.h"
#include "detectors/templates.h"
#include "detectors/volume.h"
#include "enforcement/policy.h"

namespace dg::detectors {
namespace {

using enforcement::verdict;

constexpr std::uint32_t state_magic = 0x53444744;  // "DGDS"
constexpr std::uint32_t state_version = 1;

// Everything the detectors fold, for one client or for one cluster's union of traffic.
struct detector_states {
  client_facts facts;
  volume_state volume;
  cadence_state cadence;
  coverage_state coverage;
  templates_state templates;
  prada_state prada;
  mmd_state mmd;
  reasoning_state reasoning;
  conversation_state conversation;
  extraction_state extraction;
  std::array<float, detector_count> scores{};  // at the last rescoring
  float risk = 0;
  std::uint32_t since_score = 0;
  micros last_score_ts = 0;

  std::size_t heap_bytes() const { return templates.heap_bytes() + prada.heap_bytes() + mmd.heap_bytes(); }
};

struct client_rec {
  std::string id, hint;
  detector_states st;
  link_state link;
  std::uint32_t idx = 0;
  float own_risk = 0, risk = 0;
  verdict current = verdict::allow;
  micros verdict_since = 0;
  std::uint64_t first_action_event = 0;
  micros first_action_ts = 0;
  bool held = false;  // in the engine's list of flagged clients whose verdict is held while idle
};

struct cluster_rec {
  detector_states st;
  std::string min_member;  // the smallest member id names the cluster
  // Counted once in distillguard_clusters_flagged_total when a member first
  // inherits a risk at or above the watermark threshold from it.
  mutable bool flagged = false;
};

std::string cluster_name(const std::string& min_member) {
  std::uint64_t h = hash64(min_member, 0x636c7573746572ULL);
  std::uint8_t b[6];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(h >> (8 * i));
  return "c-" + to_hex(b, 6);
}

}  // namespace

class engine::impl {
 public:
  impl(const detector_options& o, enforcement::policy* p, prometheus::Registry* reg)
      : o_(o), policy_(p), features_(o.seed), scorer_(o), volume_(o.volume), cadence_(o.cadence),
        coverage_(o.coverage), templates_(o.templates), prada_(o.prada), mmd_(o.mmd),
        reasoning_(o.reasoning), conversation_(o.conversation), extraction_(o.extraction),
        linker_(o.linking) {
    pop_.rng = mix64(o.seed);
    cluster_pop_.rng = mix64(o.seed + 1);
    linker_.set_merge_callback([this](std::uint32_t a, std::uint32_t b) { merged(a, b); });
    if (reg) {
      auto& events = prometheus::BuildCounter()
                         .Name("distillguard_analysis_events_total")
                         .Help("Events folded into the detection engine")
                         .Register(*reg);
      m_events_ = &events.Add({});
      m_features_ = &prometheus::BuildCounter()
                         .Name("distillguard_analysis_features_computed_total")
                         .Help("Events whose features the engine computed (not carried by the event)")
                         .Register(*reg)
                         .Add({});
      m_rescores_ = &prometheus::BuildCounter()
                         .Name("distillguard_analysis_rescores_total")
                         .Help("Client and cluster rescorings")
                         .Register(*reg)
                         .Add({});
      m_untracked_ = &prometheus::BuildCounter()
                          .Name("distillguard_analysis_untracked_events_total")
                          .Help("Events of new clients beyond detectors.max_clients, not analysed")
                          .Register(*reg)
                          .Add({});
      auto& changes = prometheus::BuildCounter()
                          .Name("distillguard_analysis_verdict_changes_total")
                          .Help("Verdict changes decided by the engine, by new verdict")
                          .Register(*reg);
      for (verdict v : {verdict::allow, verdict::watermark, verdict::throttle, verdict::block}) {
        m_changes_[static_cast<std::size_t>(v)] = &changes.Add({{"to", std::string(enforcement::to_string(v))}});
      }
      m_clients_ = &prometheus::BuildGauge()
                        .Name("distillguard_analysis_clients")
                        .Help("Clients with detector state")
                        .Register(*reg)
                        .Add({});
      m_clusters_ = &prometheus::BuildGauge()
                         .Name("distillguard_analysis_clusters")
                         .Help("Clusters of linked accounts")
                         .Register(*reg)
                         .Add({});
      m_clusters_flagged_ = &prometheus::BuildCounter()
                                 .Name("distillguard_clusters_flagged_total")
                                 .Help("Clusters of linked accounts whose risk reached the watermark threshold")
                                 .Register(*reg)
                                 .Add({});
      // Scores are in [0, 1]: ten equal buckets show where each detector's mass lies.
      auto& scores = prometheus::BuildHistogram()
                         .Name("distillguard_detector_score")
                         .Help("Detector scores at each rescoring, by detector")
                         .Register(*reg);
      const prometheus::Histogram::BucketBoundaries bounds{0.1, 0.2, 0.3, 0.4, 0.5,
                                                           0.6, 0.7, 0.8, 0.9, 1.0};
      for (std::size_t i = 0; i < detector_count; ++i) {
        m_scores_[i] = &scores.Add({{"detector", std::string(detector_names[i])}}, bounds);
      }
    }
  }

  void observe(pb::QueryEvent& ev) {
    if (features_.ensure(ev) && m_features_) m_features_->Increment();
    client_rec* c = find_or_add(ev);
    if (c == nullptr) {
      if (m_untracked_) m_untracked_->Increment();
      return;
    }
    ++events_;
    if (m_events_) m_events_->Increment();
    if (!ev.client_hint().empty() && c->hint != ev.client_hint()) c->hint = ev.client_hint();

    const bool stateless = std::none_of(ev.roles().begin(), ev.roles().end(),
                                        [](int r) { return r == pb::ROLE_ASSISTANT; });
    const bool usage = ev.prompt_tokens() > 0 || ev.completion_tokens() > 0;
    const micros ts = std::max<micros>(ev.ts_micros(), c->st.facts.last_ts);
    now_ = std::max(now_, ts);
    event_view v{ev, ev.features(), ts, stateless, usage};
    fold(c->st, v, pop_);
    linker_.update(c->link, c->idx, v, c->st.templates);

    // The cluster's union state takes the member's event too.
    const std::uint32_t root = linker_.find(c->idx);
    cluster_rec* cl = nullptr;
    if (linker_.cluster_size(root) >= 2) {
      auto it = clusters_.find(root);
      if (it != clusters_.end()) cl = it->second.get();
    }
    if (cl) {
      event_view cv{ev, ev.features(), std::max(ts, cl->st.facts.last_ts), stateless, usage};
      fold(cl->st, cv, cluster_pop_);
      if (due(cl->st, cv.ts)) {
        score_states(cl->st);
        cl->st.since_score = 0;
        cl->st.last_score_ts = cv.ts;
      }
    }
    if (due(c->st, ts)) rescore(*c, ts);
    if (now_ >= next_hold_) hold_idle();
  }

  // Rescores, at the current event time, every flagged client that paused for less than
  // hold_idle_seconds: the verdict of a sweep that stops for the night stands while its evidence
  // does. Driven by event time only, so the live analyzer and a replay do the same.
  void hold_idle() {
    const micros refresh = seconds_to_micros(o_.scoring.hold_refresh_seconds);
    next_hold_ = now_ + std::max<micros>(refresh, 1);
    if (o_.scoring.hold_idle_seconds <= 0) return;
    const micros idle_max = seconds_to_micros(o_.scoring.hold_idle_seconds);
    std::size_t keep = 0;
    for (std::size_t i = 0; i < held_.size(); ++i) {
      client_rec& c = *clients_[held_[i]];
      if (c.current == verdict::allow || now_ - c.st.facts.last_ts >= idle_max) {
        c.held = false;
        continue;
      }
      held_[keep++] = held_[i];
      // Only evidence that still reaches the watermark threshold is held: a client kept flagged
      // by hysteresis alone is left to the policy's decay.
      if (now_ - c.st.last_score_ts >= refresh && c.risk >= o_.scoring.watermark_at) rescore(c, now_);
    }
    held_.resize(keep);
  }

  void flush() {
    for (auto& [root, cl] : clusters_) {  // order does not matter: clusters are independent here
      score_states(cl->st);
      cl->st.since_score = 0;
      cl->st.last_score_ts = cl->st.facts.last_ts;
    }
    if (policy_) policy_->advance(now_);
    // A client still within the idle hold is scored as of now, as hold_idle() would.
    const micros idle_max = seconds_to_micros(o_.scoring.hold_idle_seconds);
    for (auto& c : sorted_clients()) {
      const bool hold = c->held && o_.scoring.hold_idle_seconds > 0 && now_ - c->st.facts.last_ts < idle_max &&
                        c->risk >= o_.scoring.watermark_at;
      rescore(*c, hold ? now_ : std::max(c->st.facts.last_ts, c->st.last_score_ts));
    }
  }

  std::vector<client_rec*> sorted_clients() const {
    std::vector<client_rec*> out;
    out.reserve(clients_.size());
    for (const auto& c : clients_) out.push_back(c.get());
    std::sort(out.begin(), out.end(), [](const client_rec* a, const client_rec* b) { return a->id < b->id; });
    return out;
  }

  client_report make_report(const client_rec& c) const {
    client_report r;
    r.client_id = c.id;
    r.client_hint = c.hint;
    r.events = c.st.facts.events;
    r.risk = c.risk;
    r.own_risk = c.own_risk;
    r.verdict = c.current;
    if (policy_) r.verdict = policy_->lookup(c.id, now_).decided;
    r.first_action_event = c.first_action_event;
    r.first_action_ts_micros = c.first_action_ts;
    r.first_seen_micros = c.st.facts.first_ts;
    r.last_seen_micros = c.st.facts.last_ts;
    const cluster_rec* cl = cluster_of(c);
    if (cl) r.cluster = cluster_name(cl->min_member);
    auto results = results_of(c.st, cl ? &cl->st : nullptr, cl ? linker_.cluster_links(linker_.find_const(c.idx)) : 0,
                              cl ? linker_.cluster_size(linker_.find_const(c.idx)) : 0);
    fill_parts(c.st, results, r.scores, r.reasons);
    return r;
  }

  std::vector<cluster_report> cluster_reports() const {
    std::vector<cluster_report> out;
    std::unordered_map<std::uint32_t, std::vector<std::string>> members;
    for (const auto& c : clients_) {
      std::uint32_t root = linker_.find_const(c->idx);
      if (linker_.cluster_size(root) >= 2) members[root].push_back(c->id);
    }
    for (auto& [root, ids] : members) {
      auto it = clusters_.find(root);
      if (it == clusters_.end()) continue;
      cluster_report r;
      r.cluster = cluster_name(it->second->min_member);
      std::sort(ids.begin(), ids.end());
      r.members = std::move(ids);
      std::uint8_t kinds = linker_.cluster_links(root);
      for (auto k : {link_system_prompt, link_template, link_address}) {
        if (kinds & k) r.links.push_back(link_kinds_text(k));
      }
      r.events = it->second->st.facts.events;
      r.risk = it->second->st.risk;
      auto results = results_of(it->second->st, nullptr, 0, 0);
      fill_parts(it->second->st, results, r.scores, r.reasons);
      out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.cluster < b.cluster; });
    return out;
  }

  std::optional<pb::ClientRecord> save(std::string_view id) const {
    auto it = by_id_.find(std::string(id));
    if (it == by_id_.end()) return std::nullopt;
    const client_rec& c = *clients_[it->second];
    pb::ClientRecord r;
    r.set_client_id(c.id);
    r.set_client_hint(c.hint);
    r.set_first_seen_micros(c.st.facts.first_ts);
    r.set_last_seen_micros(c.st.facts.last_ts);
    r.set_events(c.st.facts.events);
    r.set_risk(c.risk);
    r.set_verdict(static_cast<pb::Verdict>(c.current));
    r.set_verdict_since_micros(c.verdict_since);
    r.set_first_action_event(c.first_action_event);
    r.set_first_action_micros(c.first_action_ts);
    client_report rep = make_report(c);
    r.set_cluster(rep.cluster);
    for (const auto& p : rep.scores) {
      auto* s = r.add_scores();
      s->set_detector(p.detector);
      s->set_score(p.score);
      s->set_reason(p.reason);
    }
    state_writer w;
    w.put(state_magic);
    w.put(state_version);
    save_states(w, c.st);
    auto sec = w.begin_section();
    c.link.save(w);
    w.put(c.own_risk);
    w.end_section(sec);
    r.set_detector_state(std::move(w.str()));
    if (policy_) policy_->save(c.id, r);  // the verdict in force and any override
    return r;
  }

  status restore(const pb::ClientRecord& r) {
    if (r.client_id().empty()) return status::invalid_argument("client record without a client id");
    auto fresh = std::make_unique<client_rec>();
    fresh->id = r.client_id();
    fresh->hint = r.client_hint();
    if (!r.detector_state().empty()) {
      state_reader rd(r.detector_state());
      std::uint32_t magic = 0, version = 0;
      if (!rd.get(magic) || magic != state_magic || !rd.get(version)) {
        return status::corruption("detector state of " + r.client_id() + ": bad header");
      }
      if (version != state_version) {
        return status::invalid_argument("detector state of " + r.client_id() + ": unknown version " +
                                        std::to_string(version));
      }
      if (!load_states(rd, fresh->st)) return status::corruption("detector state of " + r.client_id());
      state_reader sec = rd.section();
      if (!fresh->link.load(sec) || !sec.get(fresh->own_risk)) {
        return status::corruption("link state of " + r.client_id());
      }
      for (auto& cand : fresh->link.candidates) cand.claimed = 0;  // re-claimed on the next events
    }
    fresh->st.facts.events = std::max<std::uint64_t>(fresh->st.facts.events, r.events());
    fresh->risk = static_cast<float>(r.risk());
    fresh->st.risk = fresh->own_risk;
    fresh->current = static_cast<verdict>(std::clamp<int>(r.verdict(), 0, 3));
    fresh->verdict_since = r.verdict_since_micros();
    fresh->first_action_event = r.first_action_event();
    fresh->first_action_ts = r.first_action_micros();
    if (policy_) policy_->restore(r);
    auto it = by_id_.find(fresh->id);
    const bool existed = it != by_id_.end();
    if (existed) {
      fresh->idx = it->second;
      fresh->held = clients_[it->second]->held;  // its number may already be in held_
    } else {
      fresh->idx = static_cast<std::uint32_t>(clients_.size());
      linker_.add_client(fresh->idx);
      by_id_.emplace(fresh->id, fresh->idx);
    }
    if (!fresh->held && fresh->current > verdict::allow) {
      fresh->held = true;
      held_.push_back(fresh->idx);
    }
    if (existed) {
      const std::uint32_t idx = fresh->idx;
      clients_[idx] = std::move(fresh);
    } else {
      clients_.push_back(std::move(fresh));
      if (m_clients_) m_clients_->Set(static_cast<double>(clients_.size()));
    }
    return status::ok();
  }

  std::size_t state_bytes() const {
    // Per client: the record, its heap parts, its slot in the id map and the union-find.
    constexpr std::size_t map_node = sizeof(std::pair<const std::string, std::uint32_t>) + 2 * sizeof(void*);
    std::size_t total = 0;
    for (const auto& c : clients_) {
      total += sizeof(client_rec) + sizeof(void*) + c->st.heap_bytes() + map_node + 9;
      if (c->id.capacity() > 15) total += 2 * (c->id.capacity() + 1);  // the record's and the map's key
      if (c->hint.capacity() > 15) total += c->hint.capacity() + 1;
    }
    for (const auto& [root, cl] : clusters_) total += sizeof(cluster_rec) + cl->st.heap_bytes() + map_node;
    return total;
  }

  // ---------------------------------------------------------------------------------------------
  detector_options o_;
  enforcement::policy* policy_;
  feature_extractor features_;
  scorer scorer_;
  volume_detector volume_;
  cadence_detector cadence_;
  coverage_detector coverage_;
  templates_detector templates_;
  prada_detector prada_;
  mmd_detector mmd_;
  reasoning_detector reasoning_;
  conversation_detector conversation_;
  extraction_detector extraction_;
  account_linker linker_;
  population pop_, cluster_pop_;
  std::unordered_map<std::string, std::uint32_t> by_id_;
  std::vector<std::unique_ptr<client_rec>> clients_;
  std::unordered_map<std::uint32_t, std::unique_ptr<cluster_rec>> clusters_;  // by union-find root
  verdict_callback callback_;
  std::uint64_t events_ = 0;
  micros now_ = 0;
  std::vector<std::uint32_t> held_;  // flagged clients (client numbers), in the order they were flagged
  micros next_hold_ = 0;

  prometheus::Counter* m_events_ = nullptr;
  prometheus::Counter* m_features_ = nullptr;
  prometheus::Counter* m_rescores_ = nullptr;
  prometheus::Counter* m_untracked_ = nullptr;
  std::array<prometheus::Counter*, 4> m_changes_{};
  prometheus::Gauge* m_clients_ = nullptr;
  prometheus::Gauge* m_clusters_ = nullptr;
  prometheus::Counter* m_clusters_flagged_ = nullptr;
  std::array<prometheus::Histogram*, detector_count> m_scores_{};

 private:
  client_rec* find_or_add(const pb::QueryEvent& ev) {
    const std::string& id = ev.client_id().empty() ? ev.peer_address() : ev.client_id();
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return clients_[it->second].get();
    if (clients_.size() >= o_.max_clients) return nullptr;
    auto c = std::make_unique<client_rec>();
    c->id = id;
    c->idx = static_cast<std::uint32_t>(clients_.size());
    linker_.add_client(c->idx);
    by_id_.emplace(id, c->idx);
    clients_.push_back(std::move(c));
    if (m_clients_) m_clients_->Set(static_cast<double>(clients_.size()));
    return clients_.back().get();
  }

  bool due(const detector_states& st, micros ts) const {
    return st.since_score >= o_.scoring.rescore_every_events ||
           ts - st.last_score_ts >= seconds_to_micros(o_.scoring.rescore_interval_seconds);
  }

  void fold(detector_states& st, const event_view& v, population& pop) {
    auto& f = st.facts;
    ++f.events;
    if (f.first_ts == 0) f.first_ts = v.ts;
    f.last_ts = v.ts;
    if (v.usage_known) {
      ++f.usage_events;
      f.prompt_tokens += v.ev.prompt_tokens();
      f.completion_tokens += v.ev.completion_tokens();
    }
    ++st.since_score;
    if (o_.volume.enabled) volume_.update(st.volume, v, pop);
    if (o_.cadence.enabled) cadence_.update(st.cadence, v, pop);
    if (o_.coverage.enabled) coverage_.update(st.coverage, v, pop);
    // Templates feed PRADA and the linker's dominant template: kept when either is on.
    int nearest = -1;
    if (o_.templates.enabled || o_.prada.enabled || o_.linking.enabled) nearest = templates_.update(st.templates, v, pop);
    if (o_.prada.enabled) prada_.update(st.prada, nearest);
    if (o_.mmd.enabled) mmd_.update(st.mmd, v, pop, f.events);
    if (o_.reasoning.enabled) reasoning_.update(st.reasoning, v, pop);
    conversation_.update(st.conversation, v, pop);  // always: its share gates the breadth detectors
    if (o_.extraction.enabled) extraction_.update(st.extraction, v, pop);
  }

  // Detector results of a state (with reasons when `explain`); `cluster` adds the linking part.
  std::array<detector_result, detector_count> results_of(const detector_states& st, const detector_states* cluster,
                                                         std::uint8_t links, std::uint32_t members,
                                                         bool explain = true) const {
    std::array<detector_result, detector_count> r;
    const auto& f = st.facts;
    if (o_.volume.enabled) r[det_volume] = volume_.score(st.volume, pop_, f, explain);
    if (o_.cadence.enabled) r[det_cadence] = cadence_.score(st.cadence, pop_, f, explain);
    if (o_.coverage.enabled) r[det_coverage] = coverage_.score(st.coverage, pop_, f, explain);
    if (o_.templates.enabled) r[det_templates] = templates_.score(st.templates, pop_, f, explain);
    if (o_.prada.enabled) r[det_prada] = prada_.score(st.prada, pop_, f, explain);
    if (o_.mmd.enabled) r[det_mmd] = mmd_.score(st.mmd, pop_, f, explain);
    if (o_.reasoning.enabled) r[det_reasoning] = reasoning_.score(st.reasoning, pop_, f, explain);
    if (o_.conversation.enabled) r[det_conversation] = conversation_.score(st.conversation, pop_, f, explain);
    if (o_.extraction.enabled) r[det_extraction] = extraction_.score(st.extraction, pop_, f, explain);
    if (cluster) r[det_linking] = linking_result(*cluster, links, members, explain);
    return r;
  }

  // The part a client inherits from its cluster (nothing below cluster_min_members).
  detector_result linking_result(const detector_states& cluster, std::uint8_t links, std::uint32_t members,
                                 bool explain) const {
    detector_result l;
    if (!o_.linking.enabled || members < o_.scoring.cluster_min_members) return l;
    l.score = cluster.risk * o_.scoring.cluster_inherit;
    if (explain) {
      l.reason = format("linked with %u other accounts by %s; the cluster's traffic (%llu events) scores %.2f",
                        members - 1, link_kinds_text(links).c_str(),
                        static_cast<unsigned long long>(cluster.facts.events), cluster.risk);
    }
    return l;
  }

  // Refreshes the windowed tests, scores every detector and combines them into st.risk. The
  // scores are kept in st.scores; the reasons are left for fill_parts, which is asked only when
  // they are shown.
  void score_states(detector_states& st) {
    if (m_rescores_) m_rescores_->Increment();
    if (o_.prada.enabled) prada_.refresh(st.prada);
    if (o_.mmd.enabled) mmd_.refresh(st.mmd, pop_);
    auto r = results_of(st, nullptr, 0, 0, false);
    score_array s{};
    for (std::size_t i = 0; i < detector_count; ++i) {
      s[i] = r[i].score;
      st.scores[i] = static_cast<float>(r[i].score);
      if (m_scores_[i] && scorer_.enabled(i)) m_scores_[i]->Observe(r[i].score);
    }
    st.risk = static_cast<float>(scorer_.combine(s, st.conversation.stateless_share(),
                                                 st.facts.mean_completion_tokens()));
  }

  const cluster_rec* cluster_of(const client_rec& c) const {
    std::uint32_t root = linker_.find_const(c.idx);
    if (linker_.cluster_size(root) < std::max<std::uint32_t>(2, o_.scoring.cluster_min_members)) return nullptr;
    auto it = clusters_.find(root);
    return it == clusters_.end() ? nullptr : it->second.get();
  }

  void fill_parts(const detector_states& st, const std::array<detector_result, detector_count>& results,
                  std::vector<detector_part>& parts, std::vector<std::string>& reasons) const {
    std::vector<std::pair<double, std::size_t>> order;
    for (std::size_t i = 0; i < detector_count; ++i) {
      if (!scorer_.enabled(i)) continue;
      double score = i == det_linking ? results[i].score : st.scores[i];
      parts.push_back({std::string(detector_names[i]), score, scorer_.weight(i), results[i].reason});
      if (score >= o_.scoring.reason_min_score && !results[i].reason.empty()) order.emplace_back(score, i);
    }
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [score, i] : order) reasons.push_back(std::string(detector_names[i]) + ": " + results[i].reason);
  }

  void rescore(client_rec& c, micros ts) {
    score_states(c.st);
    c.st.since_score = 0;
    c.st.last_score_ts = ts;
    c.own_risk = c.st.risk;
    double risk = c.own_risk;
    const cluster_rec* cl = cluster_of(c);
    std::uint8_t links = 0;
    std::uint32_t members = 0;
    if (cl && o_.linking.enabled) {
      const std::uint32_t root = linker_.find_const(c.idx);
      links = linker_.cluster_links(root);
      members = linker_.cluster_size(root);
      const double inherited = linking_result(cl->st, links, members, false).score;
      risk = std::max(risk, inherited);
      if (!cl->flagged && inherited >= o_.scoring.watermark_at) {
        cl->flagged = true;
        if (m_clusters_flagged_) m_clusters_flagged_->Increment();
      }
    }
    c.risk = static_cast<float>(risk);

    verdict to = c.current, from = c.current;
    std::string source = "thresholds";
    std::vector<detector_part> parts;
    std::vector<std::string> reasons;
    // The parts and reasons are formatted only when someone reads them: the policy on a verdict
    // change, or the verdict callback.
    auto build = [&] {
      if (!parts.empty()) return;
      fill_parts(c.st, results_of(c.st, cl && o_.linking.enabled ? &cl->st : nullptr, links, members), parts,
                 reasons);
    };
    const std::string cluster = cl ? cluster_name(cl->min_member) : std::string();
    if (policy_) {
      enforcement::risk_input in;
      in.client_id = c.id;
      in.ts_micros = ts;
      in.risk = risk;
      in.cluster = cluster;
      in.explain = [&](std::vector<pb::DetectorScore>& scores, std::vector<std::string>& why) {
        build();
        scores.reserve(parts.size());
        for (const auto& p : parts) {
          pb::DetectorScore s;
          s.set_detector(p.detector);
          s.set_score(p.score);
          s.set_reason(p.reason);
          scores.push_back(std::move(s));
        }
        why = reasons;
      };
      enforcement::decision d = policy_->update(in);
      from = d.from;
      to = d.to;
      source = std::string(d.source);
    } else {
      to = scorer_.threshold_verdict(risk, c.current);
    }
    if (to == c.current && from == c.current) return;
    if (to == from) {  // the policy changed it elsewhere (decay, override); follow it
      c.current = to;
      return;
    }
    if (c.first_action_event == 0 && to > verdict::allow) {
      c.first_action_event = c.st.facts.events;
      c.first_action_ts = ts;
    }
    c.current = to;
    c.verdict_since = ts;
    if (to > verdict::allow && !c.held) {
      c.held = true;
      held_.push_back(c.idx);
    }
    if (m_changes_[static_cast<std::size_t>(to)]) m_changes_[static_cast<std::size_t>(to)]->Increment();
    if (callback_) {
      build();
      verdict_change ch;
      ch.client_id = c.id;
      ch.ts_micros = ts;
      ch.from = from;
      ch.to = to;
      ch.risk = risk;
      ch.scores = std::move(parts);
      ch.reasons = std::move(reasons);
      ch.source = std::move(source);
      ch.cluster = cluster;
      callback_(ch);
    }
  }

  void merged(std::uint32_t a, std::uint32_t b) {
    auto ia = clusters_.find(a), ib = clusters_.find(b);
    const std::string& name_a = ia != clusters_.end() ? ia->second->min_member : clients_[a]->id;
    const std::string& name_b = ib != clusters_.end() ? ib->second->min_member : clients_[b]->id;
    std::string min_member = std::min(name_a, name_b);
    std::unique_ptr<cluster_rec> keep;
    // Union states cannot be added together: keep the one that has seen more traffic.
    if (ia != clusters_.end() && ib != clusters_.end()) {
      keep = ia->second->st.facts.events >= ib->second->st.facts.events ? std::move(ia->second) : std::move(ib->second);
    } else if (ia != clusters_.end()) {
      keep = std::move(ia->second);
    } else if (ib != clusters_.end()) {
      keep = std::move(ib->second);
    } else {
      keep = std::make_unique<cluster_rec>();
    }
    keep->min_member = std::move(min_member);
    if (ib != clusters_.end()) clusters_.erase(ib);
    clusters_[a] = std::move(keep);
    if (m_clusters_) m_clusters_->Set(static_cast<double>(clusters_.size()));
  }

  static void save_states(state_writer& w, const detector_states& st) {
    auto sec = w.begin_section();
    w.put(st.facts.events); w.put(st.facts.first_ts); w.put(st.facts.last_ts); w.put(st.facts.usage_events);
    w.put(st.facts.prompt_tokens); w.put(st.facts.completion_tokens); w.put(st.scores); w.put(st.risk);
    w.end_section(sec);
    auto put = [&](const auto& s) {
      auto at = w.begin_section();
      s.save(w);
      w.end_section(at);
    };
    put(st.volume); put(st.cadence); put(st.coverage); put(st.templates); put(st.prada); put(st.mmd);
    put(st.reasoning); put(st.conversation); put(st.extraction);
  }

  static bool load_states(state_reader& r, detector_states& st) {
    state_reader f = r.section();
    if (!(f.get(st.facts.events) && f.get(st.facts.first_ts) && f.get(st.facts.last_ts) &&
          f.get(st.facts.usage_events) && f.get(st.facts.prompt_tokens) && f.get(st.facts.completion_tokens) &&
          f.get(st.scores) && f.get(st.risk))) {
      return false;
    }
    auto get = [&](auto& s) {
      state_reader sec = r.section();
      return sec.ok() && s.load(sec);
    };
    return get(st.volume) && get(st.cadence) && get(st.coverage) && get(st.templates) && get(st.prada) &&
           get(st.mmd) && get(st.reasoning) && get(st.conversation) && get(st.extraction);
  }
};

// ---- engine ---------------------------------------------------------------------------------------

engine::engine(const detector_options& options, enforcement::policy* policy, prometheus::Registry* registry)
    : impl_(std::make_unique<impl>(options, policy, registry)) {}
engine::~engine() = default;

void engine::observe(pb::QueryEvent& ev) { impl_->observe(ev); }
void engine::set_verdict_callback(verdict_callback cb) { impl_->callback_ = std::move(cb); }
void engine::flush() { impl_->flush(); }

std::vector<client_report> engine::reports() const {
  std::vector<client_report> out;
  auto sorted = impl_->sorted_clients();
  out.reserve(sorted.size());
  for (const auto* c : sorted) out.push_back(impl_->make_report(*c));
  return out;
}

std::optional<client_report> engine::report(std::string_view client_id) const {
  auto it = impl_->by_id_.find(std::string(client_id));
  if (it == impl_->by_id_.end()) return std::nullopt;
  return impl_->make_report(*impl_->clients_[it->second]);
}

std::vector<cluster_report> engine::clusters() const { return impl_->cluster_reports(); }
std::optional<pb::ClientRecord> engine::save(std::string_view client_id) const { return impl_->save(client_id); }
status engine::restore(const pb::ClientRecord& record) { return impl_->restore(record); }

std::vector<std::string> engine::client_ids() const {
  std::vector<std::string> out;
  out.reserve(impl_->clients_.size());
  for (const auto& c : impl_->clients_) out.push_back(c->id);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t engine::client_count() const { return impl_->clients_.size(); }
std::uint64_t engine::events_observed() const { return impl_->events_; }
std::size_t engine::state_bytes() const { return impl_->state_bytes(); }
const detector_options& engine::options() const { return impl_->o_; }

void engine::reconfigure(const detector_options& options) {
  impl& m = *impl_;
  detector_options next = options;
  next.seed = m.o_.seed;  // the features of every stored state depend on it
  const double linking_weight = next.linking.weight;
  next.linking = m.o_.linking;  // the linker keeps the options it was built with ...
  next.linking.weight = linking_weight;  // ... except the weight, which only scoring reads
  m.scorer_ = scorer(next);
  m.volume_ = volume_detector(next.volume);
  m.cadence_ = cadence_detector(next.cadence);
  m.coverage_ = coverage_detector(next.coverage);
  m.templates_ = templates_detector(next.templates);
  m.prada_ = prada_detector(next.prada);
  m.mmd_ = mmd_detector(next.mmd);
  m.reasoning_ = reasoning_detector(next.reasoning);
  m.conversation_ = conversation_detector(next.conversation);
  m.extraction_ = extraction_detector(next.extraction);
  m.o_ = std::move(next);
}

}  // namespace dg::detectors
