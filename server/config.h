// config: the gateway's whole configuration, read once from YAML at start-up
// (and again on reload into a new object). Plain structs in the manner of
// LevelDB's Options: every field has a default and says what it does and when
// to change it. deploy/distillguard.yaml documents the same keys for operators.
//
// Thread safety: a gateway_config is immutable once loaded; share it by const
// reference or shared_ptr<const gateway_config>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config_node.h"
#include "detectors/detector_options.h"
#include "enforcement/policy_options.h"
#include "server/cidr.h"
#include "storage/storage_options.h"

namespace dg::server {

// An upstream URL split into the parts the pool needs.
struct upstream_url {
  bool tls = false;         // https
  std::string host;         // name or address, without brackets
  std::uint16_t port = 0;   // 80 / 443 when the URL has none
  std::string base_path;    // prefix for every request target ("" or "/openai"), no trailing '/'
  std::string host_header;  // what goes in Host: ("api.example.com" or "h:8443")
};

// Parses http://HOST[:PORT][/PATH] or https://...; false (with `error`) otherwise.
bool parse_upstream_url(const std::string& url, upstream_url& out, std::string& error);

struct upstream_options {
  // The API being protected: http://HOST:PORT or https://HOST[:PORT][/PREFIX].
  // A path prefix is prepended to every request target.
  std::string url = "http://127.0.0.1:8000";
  // PEM bundle of CAs trusted for an https upstream; empty = the system's store.
  std::string ca_file;
  // Verify the upstream's certificate and name. Turn off only for a test rig.
  bool verify = true;
  // Time to establish a connection (TCP and TLS) to the upstream; 504 beyond.
  int connect_timeout_ms = 5000;
  // Time from sending the request to the first byte of the response header;
  // 504 beyond. Large models can think for minutes before the first byte.
  int response_timeout_ms = 300000;
  // A response body that stalls this long is cut off, and a pooled connection
  // idle this long is closed.
  int idle_timeout_ms = 60000;
  // Idle keep-alive connections kept for reuse.
  int pool_size = 256;

  upstream_url parsed;  // derived from url
};

struct admin_options {
  // The admin API, /healthz, /readyz and /metrics. Keep it on loopback.
  std::string listen = "127.0.0.1:9901";
  // A file holding the bearer token for /admin/* routes (not world-readable);
  // empty = the /admin/* routes are refused.
  std::string token_file;

  std::string host = "127.0.0.1";  // derived from listen
  std::uint16_t port = 9901;
};

struct limits_options {
  // Request line plus headers; 431 beyond (nginx uses 4 x 8 KiB).
  std::uint32_t max_header_bytes = 16384;
  // Request body; 413 beyond. Vision requests carry base64 images.
  std::uint64_t max_body_bytes = 16u << 20;
  // Time to receive the whole header of a request once it started; 408 and
  // close beyond (slowloris).
  int header_timeout_ms = 10000;
  // Time to receive the whole body once the header is in; 408 beyond.
  int body_timeout_ms = 60000;
  // An idle keep-alive client connection is closed after this long.
  int keepalive_timeout_ms = 75000;
  // Client connections open at once; further accepts wait. Each needs a file
  // descriptor (and an upstream one while a request is in flight).
  int max_connections = 20000;
};

struct tls_options {
  // PEM certificate chain and private key for TLS on the proxy listener.
  // Both empty = plain HTTP. TLS 1.2 and 1.3 only, with AEAD ciphers.
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

struct identity_options {
  // The HMAC key that turns credentials into client ids. Empty = <state_dir>/secret,
  // generated (32 random bytes, mode 0600) on first start. Changing it changes
  // every client id.
  std::string secret_file;
  // An extra header carrying the credential (e.g. "x-user-id" set by a
  // front end), checked after Authorization and x-api-key. Empty = none.
  std::string header;
  // Peers (CIDRs) whose X-Forwarded-For is believed. Anyone else's is ignored,
  // so no client picks another's identity.
  std::vector<std::string> trusted_proxies;

  std::vector<cidr> trusted;  // derived from trusted_proxies
};

struct log_options {
  // debug | info | warn | error.
  std::string level = "info";
  // One JSON line per request (client id and hint, never the key) on stderr.
  bool access_log = false;
};

struct shutdown_options {
  // On SIGTERM/SIGINT, in-flight requests and streams get this long to end.
  int drain_ms = 10000;
};

struct gateway_config {
  // The proxy listener, HOST:PORT ([::1]:8080 for IPv6). Port 0 = any free port.
  std::string listen = "127.0.0.1:8080";
  // I/O threads; 0 = one per core.
  int threads = 0;
  // Where the secret and, by default, the store live.
  std::string state_dir = "/var/lib/distillguard";

  upstream_options upstream;
  admin_options admin;
  limits_options limits;
  tls_options tls;
  identity_options identity;
  log_options log;
  shutdown_options shutdown;
  storage::storage_options storage;
  detectors::detector_options detectors;
  enforcement::policy_options policy;

  std::string listen_host = "127.0.0.1";  // derived from listen
  std::uint16_t listen_port = 8080;
  std::string file;                       // where it was loaded from
};

// Reads every block of `root` into `out`, recording errors in root's error list.
void read_gateway_config(config_node& root, gateway_config& out);

// Loads and validates a file; throws dg::config_error listing every error as
// FILE:LINE:COL: key 'a.b': message.
gateway_config load_config(const std::string& file);
// The same over text (tests).
gateway_config load_config_string(const std::string& text, const std::string& name = "<string>");

// The secret file path in force (identity.secret_file or <state_dir>/secret).
std::string secret_path(const gateway_config& c);

// The I/O threads in force: `threads`, or one per core.
unsigned io_thread_count(const gateway_config& c);

}  // namespace dg::server
