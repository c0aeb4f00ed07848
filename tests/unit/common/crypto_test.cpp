#include "common/crypto.h"

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
