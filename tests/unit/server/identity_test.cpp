#include "server/identity.h"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace dg::server {
namespace {

namespace http = boost::beast::http;
namespace ip = boost::asio::ip;

identity_resolver resolver(std::vector<std::string> trusted = {}) {
  std::vector<cidr> t;
  for (const auto& s : trusted) t.push_back(*cidr::parse(s));
  return identity_resolver("0123456789abcdef0123456789abcdef", "x-user-id", t);
}

TEST(identity, bearer_key_becomes_hmac_id_and_hint) {
  http::fields f;
  f.set(http::field::authorization, "Bearer sk-proj-ABCDEFGHIJKLMNOPabcd");
  const auto id = resolver().identify(f, ip::make_address("203.0.113.7"));
  EXPECT_EQ(id.kind, credential_kind::bearer);
  EXPECT_EQ(id.client_id.size(), 32u);
  EXPECT_EQ(id.client_id, to_hex(hmac_sha256("0123456789abcdef0123456789abcdef",
                                             "bearer:sk-proj-ABCDEFGHIJKLMNOPabcd"),
                                 16));
  EXPECT_EQ(id.hint, "sk-...abcd");
  EXPECT_EQ(id.client_id.find("ABCDEFGH"), std::string::npos);
  EXPECT_EQ(id.peer_address, "203.0.113.7");
}

TEST(identity, order_bearer_then_api_key_then_header_then_address) {
  const auto r = resolver();
  const auto peer = ip::make_address("10.1.2.3");
  http::fields f;
  f.set("x-user-id", "user-0000000000000042");
  EXPECT_EQ(r.identify(f, peer).kind, credential_kind::header);
  f.set("x-api-key", "key-00000000000000000001");
  EXPECT_EQ(r.identify(f, peer).kind, credential_kind::api_key);
  f.set(http::field::authorization, "bearer tok-0000000000000000001");
  EXPECT_EQ(r.identify(f, peer).kind, credential_kind::bearer);
  http::fields none;
  const auto a = r.identify(none, peer);
  EXPECT_EQ(a.kind, credential_kind::address);
  EXPECT_EQ(a.hint, "10.1.2.3");
  // A key is one client whichever header carries it; a header value or an
  // address is never taken for a key.
  EXPECT_EQ(r.client_id(credential_kind::bearer, "k"), r.client_id(credential_kind::api_key, "k"));
  EXPECT_NE(r.client_id(credential_kind::bearer, "k"), r.client_id(credential_kind::header, "k"));
  EXPECT_NE(r.client_id(credential_kind::bearer, "k"), r.client_id(credential_kind::address, "k"));
}

TEST(identity, forwarded_for_only_from_trusted_proxies) {
  http::fields f;
  f.set("x-forwarded-for", "198.51.100.9, 10.0.0.5");
  const auto untrusted = resolver().identify(f, ip::make_address("192.0.2.1"));
  EXPECT_EQ(untrusted.peer_address, "192.0.2.1");
  EXPECT_FALSE(untrusted.via_trusted_proxy);

  // Behind trusted 10.0.0.0/8 proxies: the rightmost untrusted entry.
  const auto trusted = resolver({"10.0.0.0/8"}).identify(f, ip::make_address("10.0.0.1"));
  EXPECT_EQ(trusted.peer_address, "198.51.100.9");
  EXPECT_TRUE(trusted.via_trusted_proxy);

  // A client cannot pick another's address by prepending it.
  http::fields spoof;
  spoof.set("x-forwarded-for", "1.1.1.1, 203.0.113.50");
  EXPECT_EQ(resolver({"10.0.0.0/8"}).identify(spoof, ip::make_address("10.0.0.1")).peer_address,
            "203.0.113.50");

  // Garbage stops the walk.
  http::fields junk;
  junk.set("x-forwarded-for", "not-an-ip");
  EXPECT_EQ(resolver({"10.0.0.0/8"}).identify(junk, ip::make_address("10.0.0.1")).peer_address,
            "10.0.0.1");
}

// The connection's text of its peer stands in for converting the address, but
// never for an address taken from X-Forwarded-For.
TEST(identity, peer_text_is_the_peer_address_only) {
  const auto peer = ip::make_address("10.0.0.1");
  http::fields none;
  const auto given = resolver().identify(none, peer, "10.0.0.1");
  const auto made = resolver().identify(none, peer);
  EXPECT_EQ(given.peer_address, made.peer_address);
  EXPECT_EQ(given.client_id, made.client_id);
  EXPECT_EQ(given.hint, made.hint);
  http::fields f;
  f.set("x-forwarded-for", "198.51.100.9");
  EXPECT_EQ(resolver({"10.0.0.0/8"}).identify(f, peer, "10.0.0.1").peer_address, "198.51.100.9");
}

// Ids are cached per thread; the cache must never answer for another secret,
// another kind of credential, or stop answering right after it fills.
TEST(identity, cached_ids_stay_exact) {
  const identity_resolver a("secret-a", "", {});
  const identity_resolver b("secret-b", "", {});
  const auto expect = [](std::string_view secret, std::string_view data) {
    return to_hex(hmac_sha256(secret, data), 16);
  };
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(a.client_id(credential_kind::bearer, "sk-1"), expect("secret-a", "bearer:sk-1"));
    EXPECT_EQ(b.client_id(credential_kind::bearer, "sk-1"), expect("secret-b", "bearer:sk-1"));
    EXPECT_EQ(a.client_id(credential_kind::api_key, "sk-1"), expect("secret-a", "bearer:sk-1"));
    EXPECT_EQ(a.client_id(credential_kind::header, "sk-1"), expect("secret-a", "header:sk-1"));
    EXPECT_EQ(a.client_id(credential_kind::address, "sk-1"), expect("secret-a", "address:sk-1"));
  }
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "sk-" + std::to_string(i);
    ASSERT_EQ(a.client_id(credential_kind::bearer, key), expect("secret-a", "bearer:" + key));
  }
  EXPECT_EQ(a.client_id(credential_kind::bearer, "sk-1"), expect("secret-a", "bearer:sk-1"));
}

TEST(identity, hints_never_reveal_short_keys) {
  EXPECT_EQ(credential_hint("short"), "***");
  EXPECT_EQ(credential_hint("abcdefghijklmnopqrstuvwxyz"), "...wxyz");
  EXPECT_EQ(credential_hint("sk-ant-api03-xxxxxxxxxxxxxxxxWXYZ"), "sk-...WXYZ");
}

TEST(identity, cidr_matching) {
  auto c = cidr::parse("10.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip::make_address("10.255.0.1")));
  EXPECT_FALSE(c->contains(ip::make_address("11.0.0.1")));
  EXPECT_TRUE(c->contains(ip::make_address("::ffff:10.0.0.1")));
  auto v6 = cidr::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(ip::make_address("2001:db8:1::1")));
  EXPECT_FALSE(v6->contains(ip::make_address("10.0.0.1")));
  EXPECT_FALSE(cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(cidr::parse("nope"));
  EXPECT_TRUE(cidr::parse("127.0.0.1"));
}

TEST(identity, secret_is_created_once_with_0600) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg-secret-" + to_hex(sha256(std::to_string(::getpid())), 4));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "state" / "secret").string();
  std::string a;
  std::string b;
  ASSERT_TRUE(load_or_create_secret(path, a));
  ASSERT_TRUE(load_or_create_secret(path, b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dg::server
