#include "common/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(crypto, sha256_matches_known_vector) {
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(crypto, hmac_sha256_matches_rfc4231_case_2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The one-shot OpenSSL calls the cached contexts replaced: the definition.
std::string reference_hmac(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return to_hex(out, len);
}

std::string reference_sha256(std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return to_hex(out, len);
}

TEST(crypto, hmac_with_alternating_keys_matches_one_shot_hmac) {
  // The thread keeps the last key in its context: changing keys, a key that is a
  // prefix of another, the empty key and a key longer than a block must each be used.
  const std::vector<std::string> keys = {"Jefe", "Jef", "", std::string(200, 'k'), "Jefe",
                                         std::string("a\0b", 3), "Jefe"};
  for (int round = 0; round < 3; ++round) {
    for (const auto& k : keys) {
      for (std::string_view d : {"", "what do ya want for nothing?", "x"}) {
        EXPECT_EQ(to_hex(hmac_sha256(k, d)), reference_hmac(k, d)) << "key size " << k.size();
      }
    }
  }
}

TEST(crypto, digests_agree_with_one_shot_calls_on_many_threads) {
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &bad] {
      const std::string key = "key-of-thread-" + std::to_string(t);
      for (int i = 0; i < 300; ++i) {
        const std::string data(static_cast<std::size_t>(i), static_cast<char>('a' + t));
        if (to_hex(hmac_sha256(key, data)) != reference_hmac(key, data)) ++bad[t];
        if (to_hex(hmac_sha256("shared", data)) != reference_hmac("shared", data)) ++bad[t];
        if (to_hex(sha256(data)) != reference_sha256(data)) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(crypto, hex_truncates_to_requested_bytes) {
  EXPECT_EQ(to_hex(sha256("abc"), 4), "ba7816bf");
}

TEST(crypto, constant_time_equal_compares_content_and_length) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("", "x"));
}

TEST(crypto, random_bytes_differ) {
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

TEST(crypto, hash64_is_seeded_and_stable) {
  EXPECT_EQ(hash64("hello"), hash64("hello"));
  EXPECT_NE(hash64("hello"), hash64("hello", 1));
  EXPECT_NE(hash64("hello"), hash64("hellp"));
}

}  // namespace
}  // namespace dg
