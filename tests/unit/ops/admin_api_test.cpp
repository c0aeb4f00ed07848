// The admin API's authentication and every route, over small in-memory
// sources (the integration tests drive the same routes on a running gateway).
#include "server/admin_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/admin_token.h"

namespace dg::server {
namespace {

using nlohmann::json;
using enforcement::verdict;

constexpr std::string_view token = "0123456789abcdef0123456789abcdef";
constexpr micros t0 = 1'793'577'600'000'000;  // 2026-11-02T00:00:00Z

detectors::client_report report(std::string id, double risk, verdict v, std::uint64_t events,
                                std::string cluster = "") {
  detectors::client_report r;
  r.client_id = std::move(id);
  r.client_hint = "sk-..." + r.client_id.substr(0, 4);
  r.risk = r.own_risk = risk;
  r.verdict = v;
  r.events = events;
  r.cluster = std::move(cluster);
  r.first_seen_micros = t0;
  r.last_seen_micros = t0 + static_cast<micros>(events) * 1'000'000;
  r.scores = {{"volume", risk / 2, 0.35, risk > 0.5 ? "12000 requests a day, 9 sigma above the population" : ""},
              {"extraction", risk, 0.95, risk > 0.5 ? "logprobs with logit_bias on 80% of requests" : ""}};
  if (risk > 0.5) r.reasons = {"logprobs with logit_bias on 80% of requests", "12000 requests a day"};
  return r;
}

// Sources holding a few clients, one cluster, an audit log, events and overrides.
struct fake_gateway {
  std::vector<detectors::client_report> reports{
      report("aaaa01", 0.97, verdict::block, 900, "c-01"), report("bbbb02", 0.10, verdict::allow, 5000),
      report("cccc03", 0.72, verdict::throttle, 300, "c-01"), report("dddd04", 0.55, verdict::watermark, 40)};
  std::mutex mu;
  std::map<std::string, verdict_override, std::less<>> overrides;
  int reloads = 0;
  bool reload_ok = true;
  std::shared_ptr<const gateway_config> config = [] {
    auto c = std::make_shared<gateway_config>();
    c->admin.token_file = "/etc/distillguard/admin.token";
    c->identity.secret_file = "/var/lib/distillguard/secret";
    return c;
  }();

  admin_sources sources() {
    admin_sources s;
    s.clients = [this] { return reports; };
    s.client = [this](std::string_view id) -> std::optional<detectors::client_report> {
      for (const auto& r : reports) {
        if (r.client_id == id) return r;
      }
      return std::nullopt;
    };
    s.clusters = [] {
      detectors::cluster_report c;
      c.cluster = "c-01";
      c.members = {"aaaa01", "cccc03"};
      c.links = {"system prompt", "template"};
      c.risk = 0.97;
      c.events = 1200;
      return std::vector<detectors::cluster_report>{c};
    };
    s.audit = [](std::string_view id, std::size_t limit) {
      std::vector<pb::AuditEntry> out;
      if (id != "aaaa01") return out;
      for (int i = 0; i < 3 && out.size() < limit; ++i) {
        pb::AuditEntry a;
        a.set_ts_micros(t0 + (3 - i) * 60'000'000);
        a.set_client_id(std::string(id));
        a.set_from(static_cast<pb::Verdict>(2 - i));
        a.set_to(static_cast<pb::Verdict>(3 - i));
        a.set_risk(0.9 - 0.1 * i);
        a.set_source("policy");
        a.add_reasons("logprobs with logit_bias on 80% of requests");
        out.push_back(a);
      }
      return out;
    };
    s.recent_events = [](std::string_view id, std::size_t limit) {
      std::vector<pb::QueryEvent> out;
      for (std::size_t i = 0; i < limit && i < 5; ++i) {
        pb::QueryEvent e;
        e.set_client_id(std::string(id));
        e.set_ts_micros(t0 - static_cast<micros>(i) * 1'000'000);
        e.set_route("/v1/chat/completions");
        e.set_model("gpt-test");
        e.set_status(200);
        e.set_max_tokens(1);
        e.set_logprobs(true);
        e.set_prompt_text_hash(std::string(32, '\x01'));
        e.set_user_agent("bad \xff utf8");  // must not break the JSON
        out.push_back(e);
      }
      return out;
    };
    s.stored_client = [](std::string_view id) -> std::optional<pb::ClientRecord> {
      if (id != "eeee05") return std::nullopt;
      pb::ClientRecord r;
      r.set_client_id("eeee05");
      r.set_risk(0.6);
      r.set_verdict(pb::VERDICT_WATERMARK);
      auto* part = r.add_scores();
      part->set_detector("templates");
      part->set_score(0.8);
      part->set_reason("one template on 95% of prompts");
      return r;
    };
    s.get_override = [this](std::string_view id) -> std::optional<verdict_override> {
      std::lock_guard l(mu);
      auto it = overrides.find(id);
      if (it == overrides.end()) return std::nullopt;
      return it->second;
    };
    s.set_override = [this](std::string_view id, const verdict_override& o) {
      std::lock_guard l(mu);
      overrides[std::string(id)] = o;
      return status::ok();
    };
    s.clear_override = [this](std::string_view id) {
      std::lock_guard l(mu);
      return overrides.erase(std::string(id)) ? status::ok() : status::not_found("no override");
    };
    s.reload = [this] {
      ++reloads;
      reload_result r;
      r.ok = reload_ok;
      if (!reload_ok) r.errors = {"a.yaml:3:5: key 'policy.mode': must be one of enforce, shadow"};
      return r;
    };
    s.config = [this] { return config; };
    return s;
  }
};

class admin_api_test : public ::testing::Test {
 protected:
  fake_gateway gw;
  manual_clock clock{t0};
  admin_api api{std::string(token), gw.sources(), clock};
  const std::string auth = "Bearer " + std::string(token);

  admin_response call(std::string_view method, std::string_view target, std::string_view body = "",
                      std::string_view authorization = "") {
    return api.handle({method, target, authorization.empty() ? std::string_view(auth) : authorization, body});
  }
  static json body(const admin_response& r) { return json::parse(r.body); }
};

std::string header(const admin_response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_F(admin_api_test, missing_token_is_401_with_openai_body_on_every_route) {
  for (auto [m, t] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"GET", "/admin/clients"}, {"GET", "/admin/clients/aaaa01"},
           {"POST", "/admin/clients/aaaa01/override"}, {"DELETE", "/admin/clients/aaaa01/override"},
           {"GET", "/admin/clusters"}, {"POST", "/admin/reload"}, {"GET", "/admin/config"},
           {"GET", "/admin/nonexistent"}}) {
    auto r = api.handle({m, t, "", ""});
    EXPECT_EQ(r.status, 401) << t;
    auto j = body(r);
    EXPECT_EQ(j["error"]["code"], "missing_admin_token");
    EXPECT_EQ(j["error"]["type"], "authentication_error");
    EXPECT_TRUE(j["error"]["param"].is_null());
    EXPECT_FALSE(header(r, "www-authenticate").empty());
  }
  EXPECT_EQ(gw.reloads, 0);
}

TEST_F(admin_api_test, wrong_token_is_401) {
  for (std::string_view a : {"Bearer 0123456789abcdef0123456789abcdee", "Bearer short",
                             "Basic MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                             "Bearer 0123456789abcdef0123456789abcdef0"}) {
    auto r = call("GET", "/admin/clients", "", a);
    EXPECT_EQ(r.status, 401) << a;
  }
  EXPECT_EQ(body(call("GET", "/admin/clients", "", "Bearer nope0000000000000"))["error"]["code"],
            "invalid_admin_token");
  // The token with the scheme in another case is still the token.
  EXPECT_EQ(call("GET", "/admin/clients", "", "bearer " + std::string(token)).status, 200);
}

TEST_F(admin_api_test, no_token_file_disables_the_api) {
  admin_api off{"", gw.sources(), clock};
  auto r = off.handle({"GET", "/admin/clients", auth, ""});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(body(r)["error"]["code"], "admin_api_disabled");
}

TEST_F(admin_api_test, top_clients_sorted_by_risk_with_limit) {
  auto r = call("GET", "/admin/clients?sort=risk&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body(r);
  ASSERT_EQ(j["clients"].size(), 2u);
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["clients"][0]["client_id"], "aaaa01");
  EXPECT_EQ(j["clients"][0]["verdict"], "block");
  EXPECT_EQ(j["clients"][0]["cluster"], "c-01");
  EXPECT_DOUBLE_EQ(j["clients"][0]["risk"].get<double>(), 0.97);
  EXPECT_EQ(j["clients"][0]["top_reasons"][0], "logprobs with logit_bias on 80% of requests");
  EXPECT_EQ(j["clients"][1]["client_id"], "cccc03");
  EXPECT_TRUE(j["clients"][0].contains("hint"));
  EXPECT_TRUE(j["clients"][0].contains("events"));
}

TEST_F(admin_api_test, cluster_members_sharing_a_risk_list_the_cause_first) {
  // Two members inherit the cluster's 0.99; the one whose own traffic scored it leads, though
  // its id sorts last and it has fewer events; between equal own risks the busier one leads.
  gw.reports = {report("zzzz09", 0.99, verdict::block, 80, "c-02"), report("aaaa01", 0.99, verdict::block, 300, "c-02"),
                report("bbbb02", 0.99, verdict::block, 3, "c-02"), report("cccc03", 0.99, verdict::block, 3000, "c-02")};
  gw.reports[0].own_risk = 0.99;
  gw.reports[1].own_risk = gw.reports[2].own_risk = gw.reports[3].own_risk = 0.0;
  auto j = body(call("GET", "/admin/clients?sort=risk"));
  ASSERT_EQ(j["clients"].size(), 4u);
  EXPECT_EQ(j["clients"][0]["client_id"], "zzzz09");
  EXPECT_EQ(j["clients"][1]["client_id"], "cccc03");
  EXPECT_EQ(j["clients"][2]["client_id"], "aaaa01");
  EXPECT_EQ(j["clients"][3]["client_id"], "bbbb02");
}

TEST_F(admin_api_test, inherited_risks_that_differ_below_the_shown_precision_are_ties) {
  // Each member keeps the cluster risk of its own last scoring, so a member scored later
  // holds 0.9612 where the cause holds 0.9608: both print 0.96, and the cause still leads.
  gw.reports = {report("aaaa01", 0.9612, verdict::block, 3, "c-02"), report("zzzz09", 0.9608, verdict::block, 80, "c-02"),
                report("bbbb02", 0.97, verdict::block, 1, "c-03")};
  gw.reports[0].own_risk = 0.1;
  gw.reports[1].own_risk = 0.9;
  gw.reports[2].own_risk = 0.97;
  auto j = body(call("GET", "/admin/clients?sort=risk"));
  ASSERT_EQ(j["clients"].size(), 3u);
  EXPECT_EQ(j["clients"][0]["client_id"], "bbbb02");
  EXPECT_EQ(j["clients"][1]["client_id"], "zzzz09");
  EXPECT_EQ(j["clients"][2]["client_id"], "aaaa01");
}

TEST_F(admin_api_test, top_clients_other_sorts_and_filter) {
  auto j = body(call("GET", "/admin/clients?sort=events"));
  EXPECT_EQ(j["clients"][0]["client_id"], "bbbb02");
  EXPECT_EQ(j["clients"].size(), 4u);
  j = body(call("GET", "/admin/clients?verdict=throttle"));
  ASSERT_EQ(j["clients"].size(), 1u);
  EXPECT_EQ(j["clients"][0]["client_id"], "cccc03");
  EXPECT_EQ(call("GET", "/admin/clients?sort=bogus").status, 400);
  EXPECT_EQ(call("GET", "/admin/clients?limit=-1").status, 400);
  EXPECT_EQ(call("GET", "/admin/clients?limit=100000").status, 400);
  EXPECT_EQ(call("GET", "/admin/clients?verdict=maybe").status, 400);
  EXPECT_EQ(body(call("GET", "/admin/clients?limit=0"))["clients"].size(), 0u);
}

TEST_F(admin_api_test, dossier_has_scores_reasons_cluster_history_and_events) {
  auto r = call("GET", "/admin/clients/aaaa01?events=3");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body(r);
  EXPECT_EQ(j["client_id"], "aaaa01");
  EXPECT_EQ(j["verdict"], "block");
  ASSERT_EQ(j["detectors"].size(), 2u);
  EXPECT_EQ(j["detectors"][0]["detector"], "extraction");  // strongest first
  EXPECT_EQ(j["detectors"][0]["reason"], "logprobs with logit_bias on 80% of requests");
  EXPECT_EQ(j["cluster"], "c-01");
  EXPECT_EQ(j["cluster_detail"]["members"].size(), 2u);
  EXPECT_EQ(j["cluster_detail"]["links"][0], "system prompt");
  ASSERT_EQ(j["history"].size(), 3u);
  EXPECT_EQ(j["history"][0]["to"], "block");
  EXPECT_EQ(j["history"][0]["from"], "throttle");
  EXPECT_EQ(j["history"][0]["source"], "policy");
  EXPECT_EQ(j["history"][0]["at"], "2026-11-02T00:03:00.000Z");
  ASSERT_EQ(j["recent_events"].size(), 3u);
  EXPECT_EQ(j["recent_events"][0]["route"], "/v1/chat/completions");
  EXPECT_EQ(j["recent_events"][0]["params"]["max_tokens"], 1);
  EXPECT_EQ(j["recent_events"][0]["params"]["logprobs"], true);
  EXPECT_EQ(j["recent_events"][0]["prompt_sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(j["override"].is_null());
}

TEST_F(admin_api_test, dossier_of_unknown_stored_and_malformed_clients) {
  EXPECT_EQ(call("GET", "/admin/clients/ffff99").status, 404);
  EXPECT_EQ(body(call("GET", "/admin/clients/ffff99"))["error"]["code"], "client_not_found");
  auto j = body(call("GET", "/admin/clients/eeee05"));
  EXPECT_EQ(j["source"], "store");
  EXPECT_EQ(j["verdict"], "watermark");
  EXPECT_EQ(j["detectors"][0]["reason"], "one template on 95% of prompts");
  EXPECT_EQ(call("GET", "/admin/clients/..%2F..%2Fetc").status, 400);
  EXPECT_EQ(call("GET", "/admin/clients/a%zz").status, 400);
  EXPECT_EQ(call("GET", "/admin/clients/" + std::string(200, 'a')).status, 400);
}

TEST_F(admin_api_test, override_set_shows_in_dossier_and_clears) {
  auto r = call("POST", "/admin/clients/bbbb02/override",
                R"({"verdict":"block","expires_in_s":3600,"reason":"abuse report #12"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body(r);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["override"]["expires_at"], "2026-11-02T01:00:00.000Z");
  {
    std::lock_guard l(gw.mu);
    ASSERT_EQ(gw.overrides.count("bbbb02"), 1u);
    EXPECT_EQ(gw.overrides["bbbb02"].verdict, verdict::block);
    EXPECT_EQ(gw.overrides["bbbb02"].expires_micros, t0 + 3'600'000'000);
    EXPECT_EQ(gw.overrides["bbbb02"].reason, "abuse report #12");
  }
  j = body(call("GET", "/admin/clients/bbbb02"));
  EXPECT_EQ(j["override"]["verdict"], "block");
  EXPECT_EQ(j["override"]["reason"], "abuse report #12");

  EXPECT_EQ(call("DELETE", "/admin/clients/bbbb02/override").status, 200);
  EXPECT_TRUE(body(call("GET", "/admin/clients/bbbb02"))["override"].is_null());
  auto again = call("DELETE", "/admin/clients/bbbb02/override");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(body(again)["error"]["code"], "override_not_found");
}

TEST_F(admin_api_test, override_expiry_forms) {
  ASSERT_EQ(call("POST", "/admin/clients/aaaa01/override",
                 R"({"verdict":"allow","expires_at":"2026-11-03T00:00:00Z","reason":"partner"})")
                .status,
            200);
  EXPECT_EQ(gw.overrides["aaaa01"].expires_micros, t0 + 86'400'000'000);
  ASSERT_EQ(call("POST", "/admin/clients/aaaa01/override",
                 R"({"verdict":"allow","expires_at":1793664000,"reason":"partner"})")
                .status,
            200);
  EXPECT_EQ(gw.overrides["aaaa01"].expires_micros, t0 + 86'400'000'000);
  ASSERT_EQ(call("POST", "/admin/clients/aaaa01/override", R"({"verdict":"watermark","reason":"r"})").status,
            200);
  EXPECT_EQ(gw.overrides["aaaa01"].expires_micros, 0);  // no expiry
}

TEST_F(admin_api_test, override_bad_bodies_are_400) {
  for (std::string_view b : {"", "not json", "[]", R"({"reason":"x"})", R"({"verdict":"ban","reason":"x"})",
                             R"({"verdict":"block"})", R"({"verdict":"block","reason":""})",
                             R"({"verdict":"block","reason":"x","expires_in_s":-5})",
                             R"({"verdict":"block","reason":"x","expires_in_s":"1h"})",
                             R"({"verdict":"block","reason":"x","expires_at":"yesterday"})",
                             R"({"verdict":"block","reason":"x","expires_at":"2020-01-01T00:00:00Z"})",
                             R"({"verdict":"block","reason":"x","expires_at":"2027-01-01T00:00:00"})",
                             R"({"verdict":"block","reason":"x","expires_in_s":5,"expires_at":1893456000})",
                             R"({"verdict":"block","reason":"x","colour":"red"})"}) {
    auto r = call("POST", "/admin/clients/aaaa01/override", b);
    EXPECT_EQ(r.status, 400) << b;
    EXPECT_TRUE(body(r)["error"]["message"].is_string());
  }
  EXPECT_TRUE(gw.overrides.empty());
}

TEST_F(admin_api_test, clusters_listed_with_members_and_links) {
  auto j = body(call("GET", "/admin/clusters"));
  ASSERT_EQ(j["clusters"].size(), 1u);
  EXPECT_EQ(j["clusters"][0]["cluster"], "c-01");
  EXPECT_EQ(j["clusters"][0]["size"], 2);
  EXPECT_EQ(j["clusters"][0]["members"][1], "cccc03");
}

TEST_F(admin_api_test, reload_good_and_bad) {
  auto r = call("POST", "/admin/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["ok"], true);
  gw.reload_ok = false;
  r = call("POST", "/admin/reload");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(body(r)["ok"], false);
  EXPECT_EQ(body(r)["errors"][0], "a.yaml:3:5: key 'policy.mode': must be one of enforce, shadow");
  EXPECT_EQ(gw.reloads, 2);
  EXPECT_EQ(call("GET", "/admin/reload").status, 405);
  EXPECT_EQ(header(call("GET", "/admin/reload"), "allow"), "POST");
}

TEST_F(admin_api_test, config_is_served_without_secrets) {
  auto r = call("GET", "/admin/config");
  ASSERT_EQ(r.status, 200);
  auto j = body(r);
  EXPECT_EQ(j["admin"]["token_file"], "/etc/distillguard/admin.token");
  EXPECT_EQ(r.body.find(token), std::string::npos);
  EXPECT_EQ(j["upstream"]["url"], "http://127.0.0.1:8000");
}

TEST_F(admin_api_test, unknown_routes_and_methods) {
  EXPECT_EQ(call("GET", "/admin/nope").status, 404);
  EXPECT_EQ(call("DELETE", "/admin/clients").status, 405);
  EXPECT_EQ(call("PATCH", "/admin/clients/aaaa01/override").status, 405);
  EXPECT_EQ(call("POST", "/admin/config").status, 405);
}

TEST_F(admin_api_test, unwired_sources_answer_501) {
  admin_api bare{std::string(token), admin_sources{}, clock};
  for (auto [m, t] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"GET", "/admin/clients"}, {"GET", "/admin/clients/aa"}, {"GET", "/admin/clusters"},
           {"POST", "/admin/reload"}, {"GET", "/admin/config"}, {"DELETE", "/admin/clients/aa/override"}}) {
    EXPECT_EQ(bare.handle({m, t, auth, ""}).status, 501) << t;
  }
}

TEST_F(admin_api_test, throwing_source_is_a_500_not_a_crash) {
  auto s = gw.sources();
  s.clients = []() -> std::vector<detectors::client_report> { throw std::runtime_error("store closed"); };
  admin_api a{std::string(token), s, clock};
  auto r = a.handle({"GET", "/admin/clients", auth, ""});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body(r)["error"]["type"], "server_error");
}

// --- the token file

class token_file_test : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("dg-token-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string write(std::string_view content, mode_t mode) {
    const auto p = (dir / "token").string();
    std::ofstream(p, std::ios::trunc) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
};

TEST_F(token_file_test, private_file_is_read_and_trimmed) {
  std::string t;
  ASSERT_TRUE(load_admin_token(write("  " + std::string(token) + "\n", 0600), t));
  EXPECT_EQ(t, token);
  ASSERT_TRUE(load_admin_token(write(std::string(token), 0640), t));
}

TEST_F(token_file_test, world_readable_or_bad_files_are_refused) {
  std::string t;
  auto s = load_admin_token(write(std::string(token), 0644), t);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("0644"), std::string::npos) << s.message();
  EXPECT_FALSE(load_admin_token(write(std::string(token), 0602), t));
  EXPECT_FALSE(load_admin_token(write("\n", 0600), t));
  EXPECT_FALSE(load_admin_token(write("short", 0600), t));
  EXPECT_FALSE(load_admin_token(write("two tokens0000000 here000000000000", 0600), t));
  EXPECT_FALSE(load_admin_token((dir / "absent").string(), t));
  EXPECT_FALSE(load_admin_token(dir.string(), t));
  manual_clock c;
  auto [st, api] = admin_api::create(write(std::string(token), 0666), admin_sources{}, c);
  EXPECT_FALSE(st);
  EXPECT_EQ(api, nullptr);
  auto [ok, api2] = admin_api::create(write(std::string(token), 0600), admin_sources{}, c);
  EXPECT_TRUE(ok);
  ASSERT_NE(api2, nullptr);
}

TEST(bearer, parsing) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token(""), "");
  EXPECT_FALSE(bearer_matches("Bearer ", ""));
  EXPECT_TRUE(bearer_matches("Bearer abc", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer abd", "abc"));
}

}  // namespace
}  // namespace dg::server
