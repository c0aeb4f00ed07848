// distillguard override set|clear: a manual verdict for one client through a
// running gateway's admin API (POST/DELETE /admin/clients/{id}/override).
#include <charconv>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "enforcement/verdict.h"
#include "server/admin_client.h"
#include "server/command.h"

namespace dg::server {
namespace {

using nlohmann::json;

// "90s", "30m", "1h", "7d", "1h30m", or plain seconds. False if it is none of these.
bool parse_duration(std::string_view s, double& seconds) {
  if (s.empty()) return false;
  seconds = 0;
  while (!s.empty()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || v < 0) return false;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
    double unit = 1;
    if (!s.empty()) {
      switch (s.front()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return false;
      }
      s.remove_prefix(1);
    }
    seconds += v * unit;
  }
  return seconds > 0;
}

constexpr const char* usage =
    "usage: distillguard override set ID --verdict allow|watermark|throttle|block --reason TEXT\n"
    "                                    [--expires 1h | --expires 2026-12-01T00:00:00Z] [--json]\n"
    "       distillguard override clear ID [--json]\n"
    "  with: [--config FILE] | [--admin HOST:PORT --token-file FILE]\n\n"
    "Sets or clears a manual verdict for one client on a running gateway. An override\n"
    "wins over the detectors until it expires (--expires: a duration such as 90m, 12h,\n"
    "7d, 1h30m, or an RFC 3339 time; without it the override stays until cleared).\n"
    "The reason goes to the audit log, next to who the client is.\n"
    "Use `allow` to exempt a client the detectors flag wrongly; `block` to stop one now.\n\n"
    "The admin address and token come from --config FILE (admin.listen, admin.token_file;\n"
    "default /etc/distillguard/distillguard.yaml when it exists), or from --admin and\n"
    "--token-file. Exit status: 0 ok, 1 the API refused or could not answer, 2 usage.";

int set(const command_args& args, const std::string& id) {
  const auto v = args.value("verdict");
  const auto reason = args.value("reason");
  if (!v || !enforcement::parse_verdict(*v)) {
    std::fprintf(stderr, "distillguard: --verdict must be allow, watermark, throttle or block\n");
    return 2;
  }
  if (!reason || reason->empty()) {
    std::fprintf(stderr, "distillguard: --reason TEXT is required (it goes to the audit log)\n");
    return 2;
  }
  json body = {{"verdict", *v}, {"reason", *reason}};
  if (auto e = args.value("expires")) {
    double secs = 0;
    if (parse_duration(*e, secs)) {
      body["expires_in_s"] = secs;
    } else if (e->find('T') != std::string::npos) {
      body["expires_at"] = *e;
    } else {
      std::fprintf(stderr, "distillguard: --expires must be a duration (90m, 12h, 7d) or an RFC 3339 time\n");
      return 2;
    }
  }
  admin_reply reply;
  if (!call_admin(args, "POST", "/admin/clients/" + url_encode_segment(id) + "/override", body.dump(), reply)) return 1;
  if (args.flag("json")) {
    std::printf("%s\n", reply.body.dump(2).c_str());
    return 0;
  }
  const json& o = reply.body.value("override", json::object());
  const json& until = o.value("expires_at", json());
  std::printf("override set: %s -> %s %s (%s)\n", id.c_str(), o.value("verdict", *v).c_str(),
              until.is_string() ? ("until " + until.get<std::string>()).c_str() : "until cleared",
              o.value("reason", *reason).c_str());
  return 0;
}

int clear(const command_args& args, const std::string& id) {
  admin_reply reply;
  if (!call_admin(args, "DELETE", "/admin/clients/" + url_encode_segment(id) + "/override", "", reply)) return 1;
  if (args.flag("json")) {
    std::printf("%s\n", reply.body.dump(2).c_str());
    return 0;
  }
  std::printf("override cleared: %s (the detectors decide again)\n", id.c_str());
  return 0;
}

int run_override(const command_args& args) {
  const auto pos = args.positionals({"verdict", "reason", "expires", "admin", "token-file", "config"});
  if (pos.size() == 2 && pos[0] == "set") return set(args, pos[1]);
  if (pos.size() == 2 && pos[0] == "clear") return clear(args, pos[1]);
  std::fprintf(stderr, "%s\n", usage);
  return 2;
}

const command_registrar reg{{"override", "set or clear a manual verdict for one client (admin API)", usage,
                             run_override}};

}  // namespace
}  // namespace dg::server
