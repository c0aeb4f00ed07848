#include "server/replay_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "enforcement/verdict.h"

namespace dg::server {

namespace {

using ojson = nlohmann::ordered_json;

// Seconds since the epoch, as in the traffic log; null for "never".
ojson seconds_or_null(micros t) {
  if (t == 0) return nullptr;
  return static_cast<double>(t) / 1e6;
}

ojson scores_json(const std::vector<detectors::detector_part>& parts) {
  ojson out = ojson::object();
  for (const auto& p : parts) out[p.detector] = report_score(p.score);
  return out;
}

ojson strings_json(const std::vector<std::string>& v) {
  ojson out = ojson::array();
  for (const auto& s : v) out.push_back(s);
  return out;
}

std::string name_of(const std::map<std::string, std::string>& names, const std::string& id) {
  auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

ojson samples_json(const std::vector<std::pair<std::uint64_t, std::string>>& v) {
  ojson out = ojson::array();
  for (const auto& [line, why] : v) out.push_back(ojson{{"line", line}, {"error", why}});
  return out;
}

}  // namespace

double report_score(double x) {
  if (!(x > 0)) return 0.0;
  const double r = std::round(x * 10000.0) / 10000.0;
  return r;
}

ojson build_report(const std::vector<detectors::client_report>& clients,
                   const std::vector<detectors::cluster_report>& clusters,
                   const std::map<std::string, std::string>& names, const replay_stats& stats) {
  std::vector<const detectors::client_report*> order;
  order.reserve(clients.size());
  for (const auto& c : clients) order.push_back(&c);
  // Riskiest first; the rounded risk decides so that the order is what the reader sees.
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    const double ra = report_score(a->risk);
    const double rb = report_score(b->risk);
    if (ra != rb) return ra > rb;
    return a->client_id < b->client_id;
  });

  std::map<enforcement::verdict, std::uint64_t> by_verdict;
  std::uint64_t clustered = 0;
  ojson cl = ojson::array();
  for (const auto* c : order) {
    ++by_verdict[c->verdict];
    if (!c->cluster.empty()) ++clustered;
    ojson j;
    j["client"] = name_of(names, c->client_id);
    j["client_id"] = c->client_id;
    j["events"] = c->events;
    j["risk"] = report_score(c->risk);
    j["verdict"] = std::string(enforcement::to_string(c->verdict));
    j["first_action_event"] = c->first_action_event == 0 ? ojson(nullptr) : ojson(c->first_action_event);
    j["first_action_ts"] = c->first_action_event == 0 ? ojson(nullptr) : seconds_or_null(c->first_action_ts_micros);
    j["cluster"] = c->cluster.empty() ? ojson(nullptr) : ojson(c->cluster);
    j["detectors"] = scores_json(c->scores);
    j["reasons"] = strings_json(c->reasons);
    cl.push_back(std::move(j));
  }

  ojson cs = ojson::array();
  for (const auto& k : clusters) {
    ojson j;
    j["cluster"] = k.cluster;
    j["members"] = strings_json(k.members);
    ojson member_names = ojson::array();
    for (const auto& m : k.members) member_names.push_back(name_of(names, m));
    j["clients"] = std::move(member_names);
    j["links"] = strings_json(k.links);
    j["events"] = k.events;
    j["risk"] = report_score(k.risk);
    j["detectors"] = scores_json(k.scores);
    j["reasons"] = strings_json(k.reasons);
    cs.push_back(std::move(j));
  }

  ojson verdicts;
  for (auto v : {enforcement::verdict::allow, enforcement::verdict::watermark,
                 enforcement::verdict::throttle, enforcement::verdict::block}) {
    verdicts[std::string(enforcement::to_string(v))] = by_verdict[v];
  }
  ojson summary;
  summary["lines"] = stats.lines;
  summary["events"] = stats.events;
  summary["events_from_export"] = stats.exported_events;
  summary["bad_lines"] = stats.bad_lines;
  summary["bad_line_samples"] = samples_json(stats.bad);
  summary["request_warnings"] = stats.request_warnings;
  summary["request_warning_samples"] = samples_json(stats.warnings);
  summary["out_of_order_events"] = stats.out_of_order;
  summary["first_ts"] = stats.events == 0 ? ojson(nullptr) : seconds_or_null(stats.first_ts);
  summary["last_ts"] = stats.events == 0 ? ojson(nullptr) : seconds_or_null(stats.last_ts);
  summary["clients"] = clients.size();
  summary["verdicts"] = std::move(verdicts);
  summary["clusters"] = clusters.size();
  summary["clustered_clients"] = clustered;

  ojson report;
  report["clients"] = std::move(cl);
  report["clusters"] = std::move(cs);
  report["summary"] = std::move(summary);
  return report;
}

std::string render_report(const ojson& report) {
  // Invalid UTF-8 in a client name must not abort the dump: replace it.
  return report.dump(1, ' ', false, ojson::error_handler_t::replace) + "\n";
}

std::string summary_table(const ojson& report, const std::vector<detectors::client_report>& clients,
                          std::size_t top) {
  std::map<std::string, const detectors::client_report*> by_id;
  for (const auto& c : clients) by_id.emplace(c.client_id, &c);
  const auto& s = report.at("summary");
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "replayed %llu events from %llu lines (%llu bad), %llu clients, %llu clusters\n\n",
                static_cast<unsigned long long>(s.at("events").get<std::uint64_t>()),
                static_cast<unsigned long long>(s.at("lines").get<std::uint64_t>()),
                static_cast<unsigned long long>(s.at("bad_lines").get<std::uint64_t>()),
                static_cast<unsigned long long>(s.at("clients").get<std::uint64_t>()),
                static_cast<unsigned long long>(s.at("clusters").get<std::uint64_t>()));
  out += buf;
  out += "verdict     clients\n";
  for (const auto& [name, n] : s.at("verdicts").items()) {
    std::snprintf(buf, sizeof buf, "%-10s %8llu\n", name.c_str(),
                  static_cast<unsigned long long>(n.get<std::uint64_t>()));
    out += buf;
  }
  const auto& cl = report.at("clients");
  const std::size_t n = std::min(top, cl.size());
  if (n == 0) return out;
  out += "\ntop risks\n";
  out += "  risk  verdict     events  first  client                cluster     reasons\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = cl[i];
    const std::string id = c.at("client_id").get<std::string>();
    auto it = by_id.find(id);
    // Shown by hint: the input's "client" may be a raw key.
    std::string who = it != by_id.end() && !it->second->client_hint.empty() ? it->second->client_hint : id;
    if (who.size() > 20) who = who.substr(0, 17) + "...";
    std::string first = c.at("first_action_event").is_null()
                            ? "-"
                            : std::to_string(c.at("first_action_event").get<std::uint64_t>());
    std::string cluster = c.at("cluster").is_null() ? "-" : c.at("cluster").get<std::string>();
    if (cluster.size() > 10) cluster = cluster.substr(0, 10);
    std::string reasons;
    for (const auto& r : c.at("reasons")) {
      if (!reasons.empty()) reasons += "; ";
      reasons += r.get<std::string>();
      if (reasons.size() > 90) break;
    }
    if (reasons.size() > 90) reasons = reasons.substr(0, 87) + "...";
    std::snprintf(buf, sizeof buf, "  %.3f %-9s %8llu %6s  %-20s  %-10s  %s\n", c.at("risk").get<double>(),
                  c.at("verdict").get<std::string>().c_str(),
                  static_cast<unsigned long long>(c.at("events").get<std::uint64_t>()), first.c_str(),
                  who.c_str(), cluster.c_str(), reasons.c_str());
    out += buf;
  }
  return out;
}

}  // namespace dg::server
