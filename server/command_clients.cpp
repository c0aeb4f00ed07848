// distillguard clients top|show: the top suspects and one client's dossier,
// read from a running gateway's admin API (GET /admin/clients[/{id}]).
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "server/admin_client.h"
#include "server/cli_table.h"
#include "server/command.h"

namespace dg::server {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key, const char* fallback = "-") {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const auto& v = j[key];
  if (v.is_null()) return fallback;
  if (v.is_string()) return v.get<std::string>().empty() ? fallback : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string num(const json& j, const char* key, const char* fmt = "%.2f") {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, j[key].get<double>());
  return buf;
}

std::string joined(const json& list, const char* sep = "; ") {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += sep;
    out += v.get<std::string>();
  }
  return out;
}

void print_json(const json& j) {
  std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

int top(const command_args& args) {
  std::string target = "/admin/clients?sort=" + url_encode_segment(args.value("sort").value_or("risk")) +
                       "&limit=" + url_encode_segment(args.value("limit").value_or("20"));
  if (auto v = args.value("verdict")) target += "&verdict=" + url_encode_segment(*v);
  admin_reply reply;
  if (!call_admin(args, "GET", target, "", reply)) return 1;
  if (args.flag("json")) {
    print_json(reply.body);
    return 0;
  }
  const json& list = reply.body["clients"];
  if (!list.is_array() || list.empty()) {
    std::printf("no clients tracked yet\n");
    return 0;
  }
  cli_table t({"CLIENT", "HINT", "RISK", "VERDICT", "EVENTS", "CLUSTER", "LAST SEEN", "TOP REASONS"});
  for (const auto& c : list) {
    t.add({str(c, "client_id"), str(c, "hint"), num(c, "risk"), str(c, "verdict"), num(c, "events", "%.0f"),
           str(c, "cluster"), str(c, "last_seen"), joined(c["top_reasons"])});
  }
  t.print(stdout, terminal_width(stdout));
  std::printf("\n%zu of %s clients, by %s\n", list.size(), str(reply.body, "total").c_str(),
              str(reply.body, "sort").c_str());
  return 0;
}

void print_dossier(const json& d) {
  std::printf("client       %s  (%s)\n", str(d, "client_id").c_str(), str(d, "hint").c_str());
  std::printf("verdict      %s   risk %s (own traffic %s)   events %s\n", str(d, "verdict").c_str(),
              num(d, "risk").c_str(), num(d, "own_risk").c_str(), num(d, "events", "%.0f").c_str());
  std::printf("seen         %s .. %s\n", str(d, "first_seen").c_str(), str(d, "last_seen").c_str());
  if (d.contains("first_action_event") && d["first_action_event"].is_number() &&
      d["first_action_event"].get<double>() > 0) {
    std::printf("first acted  at its event %s (%s)\n", num(d, "first_action_event", "%.0f").c_str(),
                str(d, "first_action_at").c_str());
  }
  const json& cl = d.value("cluster_detail", json());
  if (cl.is_object()) {
    std::printf("cluster      %s: %zu members, risk %s, linked by %s\n", str(cl, "cluster").c_str(),
                cl["members"].size(), num(cl, "risk").c_str(), joined(cl["links"], ", ").c_str());
  } else if (d.contains("cluster") && d["cluster"].is_string()) {
    std::printf("cluster      %s\n", str(d, "cluster").c_str());
  }
  const json& o = d.value("override", json());
  if (o.is_object()) {
    std::printf("override     %s until %s: %s\n", str(o, "verdict").c_str(), str(o, "expires_at", "revoked").c_str(),
                str(o, "reason").c_str());
  }
  if (d.contains("source") && d["source"] == "store") {
    std::printf("(not in memory: the saved state of the store)\n");
  }

  std::printf("\nwhy\n");
  cli_table scores({"  DETECTOR", "SCORE", "WEIGHT", "REASON"});
  for (const auto& s : d.value("detectors", json::array())) {
    scores.add({"  " + str(s, "detector"), num(s, "score"), num(s, "weight"), str(s, "reason", "")});
  }
  scores.print(stdout, terminal_width(stdout));

  const json& hist = d.value("history", json::array());
  std::printf("\nverdict history (newest first)\n");
  if (hist.empty()) {
    std::printf("  none\n");
  } else {
    cli_table h({"  AT", "CHANGE", "RISK", "SOURCE", "REASONS"});
    for (const auto& a : hist) {
      h.add({"  " + str(a, "at"), str(a, "from") + " -> " + str(a, "to"), num(a, "risk"), str(a, "source"),
             joined(a["reasons"])});
    }
    h.print(stdout, terminal_width(stdout));
  }

  const json& ev = d.value("recent_events", json::array());
  std::printf("\nrecent events (newest first)\n");
  if (ev.empty()) {
    std::printf("  none\n");
    return;
  }
  cli_table e({"  AT", "ROUTE", "MODEL", "STATUS", "IN", "OUT", "APPLIED", "PARAMS", "PROMPT"});
  for (const auto& x : ev) {
    std::string params;
    if (x.contains("params") && x["params"].is_object()) {
      for (const auto& [k, v] : x["params"].items()) {
        if (!params.empty()) params += ' ';
        params += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    std::string prompt = x.contains("prompt") ? str(x, "prompt") : "sha256:" + str(x, "prompt_sha256").substr(0, 16);
    for (char& c : prompt) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    std::string applied = str(x, "verdict_applied");
    if (x.value("shaped", false)) applied += "+shaped";
    if (x.value("watermarked", false)) applied += "+wm";
    e.add({"  " + str(x, "at"), str(x, "route"), str(x, "model"), num(x, "status", "%.0f"),
           num(x, "prompt_tokens", "%.0f"), num(x, "completion_tokens", "%.0f"), applied, params, prompt});
  }
  e.print(stdout, terminal_width(stdout));
}

int show(const command_args& args, const std::string& id) {
  std::string target = "/admin/clients/" + url_encode_segment(id) +
                       "?history=" + url_encode_segment(args.value("history").value_or("20")) +
                       "&events=" + url_encode_segment(args.value("events").value_or("10"));
  admin_reply reply;
  if (!call_admin(args, "GET", target, "", reply)) return 1;
  if (args.flag("json")) {
    print_json(reply.body);
    return 0;
  }
  print_dossier(reply.body);
  return 0;
}

constexpr const char* usage =
    "usage: distillguard clients top [--limit N] [--sort risk|events|last_seen] [--verdict V] [--json]\n"
    "       distillguard clients show ID [--history N] [--events N] [--json]\n"
    "  with: [--config FILE] | [--admin HOST:PORT --token-file FILE]\n\n"
    "Reads a running gateway's admin API. `top` lists the top suspects (risk, verdict,\n"
    "cluster and strongest reasons); `show` prints one client's dossier: every detector's\n"
    "score and reason, its cluster, override, verdict history and recent events.\n\n"
    "The admin address and token come from --config FILE (admin.listen, admin.token_file;\n"
    "default /etc/distillguard/distillguard.yaml when it exists), or from --admin and\n"
    "--token-file, which also override the config's. --json prints the API's JSON as is.\n"
    "Exit status: 0 ok, 1 the API could not answer (the message says why), 2 usage.";

int run_clients(const command_args& args) {
  const auto pos = args.positionals({"limit", "sort", "verdict", "history", "events", "admin", "token-file",
                                     "config"});
  if (pos.empty()) {
    std::fprintf(stderr, "%s\n", usage);
    return 2;
  }
  if (pos[0] == "top" && pos.size() == 1) return top(args);
  if (pos[0] == "show" && pos.size() == 2) return show(args, pos[1]);
  std::fprintf(stderr, "%s\n", usage);
  return 2;
}

const command_registrar reg{{"clients", "list the top suspects, or show one client's dossier (admin API)",
                             usage, run_clients}};

}  // namespace
}  // namespace dg::server
