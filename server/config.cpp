#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <memory>
#include <thread>

#include "common/log.h"

namespace dg::server {

namespace {

// Empty when `path` names something that exists; else why not. A path that
// cannot be checked (too long, under a directory we may not search) is a bad
// value like any other: the throwing std::filesystem::exists() let a
// filesystem_error out of the loader (fuzz: config, crash-path-too-long).
std::string missing_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return {};
  if (ec) return "cannot check " + path + ": " + ec.message();
  return "no such file: " + path;
}

void read_upstream(config_node& n, upstream_options& u) {
  n.read("url", u.url);
  std::string error;
  if (!parse_upstream_url(u.url, u.parsed, error)) n.fail("url", error);
  n.read("ca_file", u.ca_file);
  if (!u.ca_file.empty()) {
    if (const std::string why = missing_file(u.ca_file); !why.empty()) n.fail("ca_file", why);
  }
  n.read("verify", u.verify);
  n.read("connect_timeout_ms", u.connect_timeout_ms, 1, 600000);
  n.read("response_timeout_ms", u.response_timeout_ms, 1, 3600000);
  n.read("idle_timeout_ms", u.idle_timeout_ms, 1, 3600000);
  n.read("pool_size", u.pool_size, 0, 1000000);
  n.finish();
}

void read_admin(config_node& n, admin_options& a) {
  n.read("listen", a.listen);
  n.read_address("listen", a.host, a.port);
  n.read("token_file", a.token_file);
  n.finish();
}

void read_limits(config_node& n, limits_options& l) {
  n.read("max_header_bytes", l.max_header_bytes, 256, 1u << 20);
  std::int64_t body = static_cast<std::int64_t>(l.max_body_bytes);
  n.read("max_body_bytes", body, 0, std::int64_t{1} << 32);
  l.max_body_bytes = static_cast<std::uint64_t>(body);
  n.read("header_timeout_ms", l.header_timeout_ms, 1, 3600000);
  n.read("body_timeout_ms", l.body_timeout_ms, 1, 3600000);
  n.read("keepalive_timeout_ms", l.keepalive_timeout_ms, 1, 3600000);
  n.read("max_connections", l.max_connections, 1, 10000000);
  n.finish();
}

void read_tls(config_node& n, tls_options& t) {
  n.read("cert_file", t.cert_file);
  n.read("key_file", t.key_file);
  if (t.cert_file.empty() != t.key_file.empty()) {
    // Name the key that is set (config_node::fail needs a present key for its line).
    n.fail(t.cert_file.empty() ? "key_file" : "cert_file",
           "cert_file and key_file go together (both set, or both empty)");
  }
  for (const char* key : {"cert_file", "key_file"}) {
    const std::string& f = std::string_view(key) == "cert_file" ? t.cert_file : t.key_file;
    if (f.empty()) continue;
    if (const std::string why = missing_file(f); !why.empty()) n.fail(key, why);
  }
  n.finish();
}

void read_identity(config_node& n, identity_options& id) {
  n.read("secret_file", id.secret_file);
  n.read("header", id.header);
  for (char& c : id.header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (id.header == "authorization" || id.header == "x-api-key") {
    n.fail("header", "authorization and x-api-key are always checked; name another header");
  }
  n.read("trusted_proxies", id.trusted_proxies);
  id.trusted.clear();
  for (const auto& p : id.trusted_proxies) {
    auto c = cidr::parse(p);
    if (!c) {
      n.fail("trusted_proxies", "not an address or CIDR range: '" + p + "'");
      continue;
    }
    id.trusted.push_back(*c);
  }
  n.finish();
}

void read_log(config_node& n, log_options& l) {
  n.read_choice("level", l.level, {"debug", "info", "warn", "error"});
  n.read("access_log", l.access_log);
  n.finish();
}

}  // namespace

bool parse_upstream_url(const std::string& url, upstream_url& out, std::string& error) {
  upstream_url u;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    u.tls = true;
    rest.remove_prefix(8);
  } else {
    error = "must start with http:// or https:// (got '" + url + "')";
    return false;
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    error = "must not have a query or fragment";
    return false;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    error = "must not carry credentials";
    return false;
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated [IPv6] host";
      return false;
    }
    u.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "expected :PORT after ]";
        return false;
      }
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) {
    error = "has no host";
    return false;
  }
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p == 0 || p > 65535) {
      error = "bad port '" + std::string(port_text) + "'";
      return false;
    }
    u.port = static_cast<std::uint16_t>(p);
  }
  u.base_path = std::string(path);
  u.host_header = std::string(authority);
  if (!port_text.empty() && u.port == (u.tls ? 443 : 80)) {
    u.host_header = std::string(authority.substr(0, authority.size() - port_text.size() - 1));
  }
  out = std::move(u);
  return true;
}

void read_gateway_config(config_node& root, gateway_config& c) {
  root.read("listen", c.listen);
  root.read_address("listen", c.listen_host, c.listen_port);
  root.read("threads", c.threads, 0, 1024);
  root.read("state_dir", c.state_dir);
  if (c.state_dir.empty()) root.fail("state_dir", "must not be empty");

  auto upstream = root.child("upstream");
  read_upstream(upstream, c.upstream);
  auto admin = root.child("admin");
  read_admin(admin, c.admin);
  auto limits = root.child("limits");
  read_limits(limits, c.limits);
  auto tls = root.child("tls");
  read_tls(tls, c.tls);
  auto identity = root.child("identity");
  read_identity(identity, c.identity);
  auto log = root.child("log");
  read_log(log, c.log);
  auto shutdown = root.child("shutdown");
  shutdown.read("drain_ms", c.shutdown.drain_ms, 0, 3600000);
  shutdown.finish();

  // The parts' own blocks. One line per block: other parts add theirs here.
  auto storage = root.child("storage");
  storage::read_storage_options(storage, c.storage);
  auto detectors = root.child("detectors");
  detectors::read_detector_options(detectors, c.detectors);
  auto policy = root.child("policy");
  enforcement::read_policy_options(policy, c.policy);

  root.finish();
}

namespace {
gateway_config finish_load(config_node root, std::shared_ptr<config_errors> errors,
                           const std::string& name) {
  gateway_config c;
  c.file = name;
  read_gateway_config(root, c);
  if (!errors->empty()) throw config_error(*errors);
  return c;
}
}  // namespace

gateway_config load_config(const std::string& file) {
  auto errors = std::make_shared<config_errors>();
  auto root = config_node::load_file(file, errors);
  return finish_load(std::move(root), errors, file);
}

gateway_config load_config_string(const std::string& text, const std::string& name) {
  auto errors = std::make_shared<config_errors>();
  auto root = config_node::load_string(text, name, errors);
  return finish_load(std::move(root), errors, name);
}

std::string secret_path(const gateway_config& c) {
  if (!c.identity.secret_file.empty()) return c.identity.secret_file;
  return (std::filesystem::path(c.state_dir) / "secret").string();
}

unsigned io_thread_count(const gateway_config& c) {
  if (c.threads > 0) return static_cast<unsigned>(c.threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dg::server
