// admin_client: the operators' CLI side of the admin API (`distillguard
// clients ...`, `distillguard override ...`). A blocking HTTP/1.1 client over
// Beast, one connection per call, with a deadline; it turns every failure into
// a sentence an operator can act on ("is the gateway running?", "wrong token").
//
// Not thread safe; one per command invocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "server/command.h"

namespace dg::server {

// Where the admin API is and how to authenticate to it.
struct admin_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9901;
  std::string token;
  std::string token_file;  // where the token came from (for messages)
};

// Resolves the endpoint from the command line:
//   --admin HOST:PORT and --token-file FILE, or
//   --config FILE (admin.listen and admin.token_file of the gateway's config),
//   else /etc/distillguard/distillguard.yaml when it exists.
// --admin and --token-file override what the config says.
status resolve_admin_endpoint(const command_args& args, admin_endpoint& out);

struct admin_reply {
  int status = 0;        // HTTP status
  nlohmann::json body;   // parsed JSON (null when the body was not JSON)
  std::string raw;       // the body as received
};

class admin_client {
 public:
  explicit admin_client(admin_endpoint ep, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : ep_(std::move(ep)), timeout_(timeout) {}

  // Sends one request; a non-2xx reply is not an error here (see describe_error).
  // Errors: unavailable (cannot connect: the message says where and why),
  // io_error (the connection broke or timed out).
  status call(std::string_view method, std::string_view target, std::string_view body,
              admin_reply& reply) const;

  // A one-line explanation of a non-2xx reply: 401 names the token file, 404
  // the missing thing, others the API's own message.
  std::string describe_error(const admin_reply& reply) const;

  const admin_endpoint& endpoint() const { return ep_; }

 private:
  admin_endpoint ep_;
  std::chrono::milliseconds timeout_;
};

// One CLI call of the API with the endpoint from `args` (--config, or --admin
// and --token-file): true on a 2xx reply; otherwise prints why on stderr.
bool call_admin(const command_args& args, std::string_view method, const std::string& target,
                const std::string& body, admin_reply& reply);

// Percent-encodes one path segment (client ids are hex, but be safe).
std::string url_encode_segment(std::string_view s);

}  // namespace dg::server
