// The replay report: the shape of DESIGN.md, key order, sorting, rounding,
// nulls for "never", the summary, and byte-for-byte determinism.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/replay_report.h"

namespace dg::server {
namespace {

using detectors::client_report;
using detectors::cluster_report;
using enforcement::verdict;

client_report make(std::string id, double risk, verdict v, std::uint64_t events,
                   std::uint64_t first_action = 0) {
  client_report r;
  r.client_id = std::move(id);
  r.client_hint = "sk-..." + r.client_id.substr(0, 4);
  r.risk = risk;
  r.verdict = v;
  r.events = events;
  r.first_action_event = first_action;
  r.first_action_ts_micros = first_action ? 1793577600250000 + static_cast<micros>(first_action) : 0;
  r.scores = {{"volume", 0.123456789, 1.0, "many requests"}, {"templates", risk, 2.0, ""}};
  if (risk > 0.5) r.reasons = {"one template for 97% of prompts", "24h activity without sleep"};
  return r;
}

struct fixture {
  std::vector<client_report> clients;
  std::vector<cluster_report> clusters;
  std::map<std::string, std::string> names;
  replay_stats stats;

  fixture() {
    clients = {make("bbbb", 0.2, verdict::allow, 10), make("aaaa", 0.97, verdict::block, 5000, 212),
               make("cccc", 0.97, verdict::throttle, 40, 33), make("dddd", 0.000004, verdict::allow, 1)};
    clients[1].cluster = "c-0001";
    clients[2].cluster = "c-0001";
    cluster_report k;
    k.cluster = "c-0001";
    k.members = {"aaaa", "cccc"};
    k.links = {"system prompt", "address range"};
    k.events = 5040;
    k.risk = 0.970004;
    k.scores = {{"linking", 0.9, 1.0, "2 accounts share a system prompt"}};
    k.reasons = {"2 accounts share a system prompt"};
    clusters = {k};
    names = {{"aaaa", "sk-attacker-key"}, {"bbbb", "203.0.113.9"}, {"cccc", "sk-other"}};
    stats.lines = 5053;
    stats.events = 5051;
    stats.bad_lines = 2;
    stats.bad = {{7, "missing \"ts\""}, {99, "not JSON: ..."}};
    stats.first_ts = 1793577600000000;
    stats.last_ts = 1793664000500000;
  }
};

TEST(report_test, shape_and_order) {
  fixture f;
  const auto r = build_report(f.clients, f.clusters, f.names, f.stats);
  ASSERT_EQ(r.size(), 3u);
  std::vector<std::string> top;
  for (const auto& [k, v] : r.items()) top.push_back(k);
  EXPECT_EQ(top, (std::vector<std::string>{"clients", "clusters", "summary"}));

  const auto& cl = r.at("clients");
  ASSERT_EQ(cl.size(), 4u);
  // Riskiest first, ties by client id.
  EXPECT_EQ(cl[0].at("client_id"), "aaaa");
  EXPECT_EQ(cl[1].at("client_id"), "cccc");
  EXPECT_EQ(cl[2].at("client_id"), "bbbb");
  EXPECT_EQ(cl[3].at("client_id"), "dddd");

  std::vector<std::string> keys;
  for (const auto& [k, v] : cl[0].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"client", "client_id", "events", "risk", "verdict",
                                            "first_action_event", "first_action_ts", "cluster",
                                            "detectors", "reasons"}));
  EXPECT_EQ(cl[0].at("client"), "sk-attacker-key");
  EXPECT_EQ(cl[0].at("events"), 5000);
  EXPECT_EQ(cl[0].at("verdict"), "block");
  EXPECT_EQ(cl[0].at("first_action_event"), 212);
  EXPECT_DOUBLE_EQ(cl[0].at("first_action_ts").get<double>(), 1793577600.250212);
  EXPECT_EQ(cl[0].at("cluster"), "c-0001");
  EXPECT_DOUBLE_EQ(cl[0].at("detectors").at("volume").get<double>(), 0.1235);
  EXPECT_EQ(cl[0].at("reasons").size(), 2u);

  EXPECT_TRUE(cl[2].at("first_action_event").is_null());
  EXPECT_TRUE(cl[2].at("first_action_ts").is_null());
  EXPECT_TRUE(cl[2].at("cluster").is_null());
  EXPECT_EQ(cl[2].at("client"), "203.0.113.9");
  EXPECT_EQ(cl[3].at("client"), "dddd");  // no name seen: the id
  EXPECT_EQ(cl[3].at("risk").get<double>(), 0.0);

  const auto& k = r.at("clusters");
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0].at("members"), nlohmann::json({"aaaa", "cccc"}));
  EXPECT_EQ(k[0].at("clients"), nlohmann::json({"sk-attacker-key", "sk-other"}));
  EXPECT_EQ(k[0].at("links").size(), 2u);
  EXPECT_DOUBLE_EQ(k[0].at("risk").get<double>(), 0.97);

  const auto& s = r.at("summary");
  EXPECT_EQ(s.at("events"), 5051);
  EXPECT_EQ(s.at("bad_lines"), 2);
  EXPECT_EQ(s.at("bad_line_samples")[0].at("line"), 7);
  EXPECT_EQ(s.at("clients"), 4);
  EXPECT_EQ(s.at("verdicts").at("allow"), 2);
  EXPECT_EQ(s.at("verdicts").at("watermark"), 0);
  EXPECT_EQ(s.at("verdicts").at("throttle"), 1);
  EXPECT_EQ(s.at("verdicts").at("block"), 1);
  EXPECT_EQ(s.at("clusters"), 1);
  EXPECT_EQ(s.at("clustered_clients"), 2);
  EXPECT_DOUBLE_EQ(s.at("last_ts").get<double>(), 1793664000.5);
}

TEST(report_test, byte_for_byte_deterministic_whatever_the_input_order) {
  fixture f;
  const std::string a = render_report(build_report(f.clients, f.clusters, f.names, f.stats));
  std::reverse(f.clients.begin(), f.clients.end());
  const std::string b = render_report(build_report(f.clients, f.clusters, f.names, f.stats));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.back(), '\n');
  // Round trip: what is written parses back to the same document.
  EXPECT_EQ(nlohmann::ordered_json::parse(a), build_report(f.clients, f.clusters, f.names, f.stats));
}

TEST(report_test, scores_are_rounded_and_safe) {
  EXPECT_EQ(report_score(0.123449), 0.1234);
  EXPECT_EQ(report_score(0.99996), 1.0);
  EXPECT_EQ(report_score(-0.5), 0.0);
  EXPECT_EQ(report_score(std::nan("")), 0.0);
  fixture f;
  f.names["aaaa"] = std::string("bad \xff utf-8");
  EXPECT_NO_THROW(render_report(build_report(f.clients, f.clusters, f.names, f.stats)));
}

TEST(report_test, summary_table_shows_hints_not_keys) {
  fixture f;
  const auto r = build_report(f.clients, f.clusters, f.names, f.stats);
  const std::string t = summary_table(r, f.clients, 10);
  EXPECT_NE(t.find("block"), std::string::npos);
  EXPECT_NE(t.find("sk-...aaaa"), std::string::npos);
  EXPECT_EQ(t.find("sk-attacker-key"), std::string::npos);
  EXPECT_NE(t.find("5051 events"), std::string::npos);
  EXPECT_NE(t.find("(2 bad)"), std::string::npos);
}

TEST(report_test, empty_input) {
  replay_stats stats;
  const auto r = build_report({}, {}, {}, stats);
  EXPECT_TRUE(r.at("clients").empty());
  EXPECT_TRUE(r.at("summary").at("first_ts").is_null());
  EXPECT_NO_THROW(summary_table(r, {}, 10));
}

}  // namespace
}  // namespace dg::server
