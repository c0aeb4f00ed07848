#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace dg {

// OpenSSL 3 looks an algorithm up by name on every one-shot call (EVP_Digest
// with EVP_sha256(), HMAC()): a fetch, allocations and a lock, four times the
// hashing itself for the short inputs we hash once per request. The algorithm
// is fetched once, and each thread keeps its contexts.
namespace {

const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct thread_contexts {
  EVP_MD_CTX* digest = EVP_MD_CTX_new();
  EVP_MAC_CTX* mac = nullptr;
  std::string mac_key;  // the key `mac` holds
  bool mac_keyed = false;

  thread_contexts() {
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac) mac = EVP_MAC_CTX_new(hmac);
    if (mac) {
      char digest_name[] = "SHA256";
      const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
                                   OSSL_PARAM_construct_end()};
      if (EVP_MAC_CTX_set_params(mac, params) != 1) {
        EVP_MAC_CTX_free(mac);
        mac = nullptr;
      }
    }
  }
  ~thread_contexts() {
    EVP_MD_CTX_free(digest);
    EVP_MAC_CTX_free(mac);
    OPENSSL_cleanse(mac_key.data(), mac_key.size());
  }
  thread_contexts(const thread_contexts&) = delete;
  thread_contexts& operator=(const thread_contexts&) = delete;
};

thread_contexts& contexts() {
  thread_local thread_contexts c;
  return c;
}

}  // namespace

sha256_digest sha256(std::string_view data) {
  sha256_digest out{};
  unsigned int len = 0;
  auto& c = contexts();
  const EVP_MD* md = sha256_md();
  if (c.digest && md && EVP_DigestInit_ex2(c.digest, md, nullptr) == 1 &&
      EVP_DigestUpdate(c.digest, data.data(), data.size()) == 1 &&
      EVP_DigestFinal_ex(c.digest, out.data(), &len) == 1) {
    return out;
  }
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
  sha256_digest out{};
  auto& c = contexts();
  if (c.mac) {
    // The same key as last time on this thread (the usual case: one server
    // secret) is kept in the context; a new key is set and remembered.
    const bool same_key = c.mac_keyed && key == c.mac_key;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    std::size_t len = 0;
    if (EVP_MAC_init(c.mac, same_key ? nullptr : k, same_key ? 0 : key.size(), nullptr) == 1) {
      if (!same_key) {
        OPENSSL_cleanse(c.mac_key.data(), c.mac_key.size());
        c.mac_key.assign(key);
        c.mac_keyed = true;
      }
      if (EVP_MAC_update(c.mac, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
          EVP_MAC_final(c.mac, out.data(), &len, out.size()) == 1) {
        return out;
      }
    }
    c.mac_keyed = false;  // a failed call leaves the context's key unknown
  }
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

std::string to_hex(const sha256_digest& d, std::size_t bytes) {
  return to_hex(d.data(), bytes < d.size() ? bytes : d.size());
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed: no entropy for the server secret");
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Compare digests so that the length of the secret is not leaked either.
  const auto da = sha256(a);
  const auto db = sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0 && a.size() == b.size();
}

std::uint64_t hash64(std::string_view data, std::uint64_t seed) {
  // FNV-1a folded through a 64-bit finaliser (splitmix64): fast and well mixed.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace dg
