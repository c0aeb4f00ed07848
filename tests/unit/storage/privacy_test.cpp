#include "storage/privacy.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace dg::storage {
namespace {

pb::QueryEvent sample() {
  pb::QueryEvent e;
  e.set_prompt_text("Résumé: 日本語のテキスト 🙂 and more");
  e.set_system_prompt("System: think step by step.");
  return e;
}

std::string sha(const std::string& s) {
  const auto d = sha256(s);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

TEST(privacy, hash_mode_keeps_only_the_hash) {
  storage_options o;
  o.prompt_text = "hash";
  auto e = sample();
  const std::string text = e.prompt_text();
  apply_prompt_privacy(e, o);
  EXPECT_TRUE(e.prompt_text().empty());
  EXPECT_TRUE(e.system_prompt().empty());
  EXPECT_EQ(e.prompt_text_hash(), sha(text));
  EXPECT_EQ(e.prompt_text_mode(), pb::PROMPT_TEXT_HASH);
}

TEST(privacy, prefix_mode_cuts_at_a_character_boundary) {
  storage_options o;
  o.prompt_text = "prefix";
  o.prompt_prefix_chars = 4;
  auto e = sample();
  const std::string text = e.prompt_text();
  apply_prompt_privacy(e, o);
  EXPECT_EQ(e.prompt_text(), "Résu");  // 4 characters, 5 bytes
  EXPECT_EQ(e.system_prompt(), "Syst");
  EXPECT_EQ(e.prompt_text_hash(), sha(text));
  EXPECT_EQ(e.prompt_text_mode(), pb::PROMPT_TEXT_PREFIX);
  EXPECT_TRUE(is_valid_utf8(e.prompt_text()));

  // Cuts inside multi-byte characters of every length stay whole.
  const std::string s = "a日🙂b";
  EXPECT_EQ(utf8_prefix(s, 1), "a");
  EXPECT_EQ(utf8_prefix(s, 2), "a日");
  EXPECT_EQ(utf8_prefix(s, 3), "a日🙂");
  EXPECT_EQ(utf8_prefix(s, 99), s);
}

TEST(privacy, full_mode_keeps_everything) {
  storage_options o;
  o.prompt_text = "full";
  auto e = sample();
  const auto before = e;
  apply_prompt_privacy(e, o);
  EXPECT_EQ(e.prompt_text(), before.prompt_text());
  EXPECT_EQ(e.system_prompt(), before.system_prompt());
  EXPECT_EQ(e.prompt_text_hash(), sha(before.prompt_text()));
  EXPECT_EQ(e.prompt_text_mode(), pb::PROMPT_TEXT_FULL);
}

TEST(privacy, is_idempotent) {
  storage_options o;
  o.prompt_text = "prefix";
  o.prompt_prefix_chars = 6;
  auto e = sample();
  apply_prompt_privacy(e, o);
  const auto once = e;
  apply_prompt_privacy(e, o);
  EXPECT_EQ(e.SerializeAsString(), once.SerializeAsString());
}

TEST(privacy, invalid_utf8_is_replaced_so_the_event_round_trips) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe6\x97"));          // truncated
  EXPECT_EQ(make_valid_utf8("a\xffz"), "a\xEF\xBF\xBDz");

  pb::QueryEvent e;
  e.set_user_agent("curl/\xff\xfe");
  e.set_prompt_text("ok \xe6\x97");
  sanitize_utf8(e);
  pb::QueryEvent back;
  ASSERT_TRUE(back.ParseFromString(e.SerializeAsString()));
  EXPECT_EQ(back.user_agent(), "curl/\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dg::storage
