// identity: phase 2 of a request. The credential (Authorization: Bearer,
// x-api-key, the configured header, else the peer address) becomes a client
// id = hex(HMAC-SHA256(secret, kind + ":" + credential)), first 16 bytes. The
// raw credential is never kept: only the id and a hint such as "sk-...abcd".
//
// identity_resolver is immutable after construction and thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/fields.hpp>

#include "common/status.h"
#include "server/cidr.h"

namespace dg::server {

// Numbered as pb::CredentialKind.
enum class credential_kind : std::uint8_t { address = 0, bearer = 1, api_key = 2, header = 3 };
std::string_view to_string(credential_kind k);

struct client_identity {
  std::string client_id;     // 32 lower-case hex characters
  std::string hint;          // "sk-...abcd", or the address for address identities
  credential_kind kind = credential_kind::address;
  std::string peer_address;  // the client's address, after trusted X-Forwarded-For
  bool via_trusted_proxy = false;
};

class identity_resolver {
 public:
  // `header` is lower case (or empty); `trusted` lists the peers whose
  // X-Forwarded-For is believed.
  identity_resolver(std::string secret, std::string header, std::vector<cidr> trusted);

  // `peer_text`, when given, is peer.to_string() (a connection keeps it: one
  // conversion per request was a tenth of identifying it).
  client_identity identify(const boost::beast::http::fields& f, const boost::asio::ip::address& peer,
                           std::string_view peer_text = {}) const;
  // The client id of a credential of a kind (also for admin look-ups and replay).
  std::string client_id(credential_kind kind, std::string_view credential) const;
  bool trusted(const boost::asio::ip::address& a) const;

 private:
  std::string derive_id(credential_kind kind, std::string_view credential) const;

  // Tells the per-thread id caches of two resolvers apart (a new resolver may
  // have another secret, and may reuse an old one's address).
  std::uint64_t instance_;
  std::string secret_;
  std::string header_;
  std::vector<cidr> trusted_;
};

// A display hint that does not reveal the credential: "sk-...abcd" for long
// keys, "...abcd" without a prefix, "***" for short ones.
std::string credential_hint(std::string_view credential);

// The client address behind trusted proxies: the rightmost X-Forwarded-For
// entry that is not itself a trusted proxy. Returns `peer` if none parses.
boost::asio::ip::address client_address(std::string_view xff, const boost::asio::ip::address& peer,
                                        const std::vector<cidr>& trusted);

// Reads the secret at `path`, or creates it (32 random bytes as hex, mode
// 0600, parent directories too) if it does not exist.
status load_or_create_secret(const std::string& path, std::string& secret);

}  // namespace dg::server
