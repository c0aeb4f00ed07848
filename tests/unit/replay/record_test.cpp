// event_from_record: a traffic-log line becomes the event the gateway would
// have recorded (same client id as identity_resolver, same request fields as
// the detectors' parser); exported lines are taken as stored; bad lines say why.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/replay_reader.h"

namespace dg::server {
namespace {

using json = nlohmann::json;

class record_test : public ::testing::Test {
 protected:
  record_test() : identity_("0123456789abcdef0123456789abcdef", "", {}) { opts_.identity = &identity_; }

  // Maps the record both ways, the tree form and the line reader replay runs, and checks
  // they agree; the tests then look at the line reader's result.
  status map(const json& j) {
    pb::QueryEvent tree_ev;
    std::string tree_client, tree_warning;
    const status tree = event_from_record(j, opts_, tree_ev, tree_client, tree_warning);
    bool exported = false;
    const status line = event_from_line(j.dump(), opts_, ev_, client_, warning_, exported);
    EXPECT_EQ(line.is_ok(), tree.is_ok()) << j.dump();
    EXPECT_EQ(line.message(), tree.message()) << j.dump();
    if (line.is_ok() && tree.is_ok()) {
      EXPECT_EQ(ev_.SerializeAsString(), tree_ev.SerializeAsString())
          << j.dump() << "\nline: " << ev_.ShortDebugString() << "\ntree: " << tree_ev.ShortDebugString();
      EXPECT_EQ(client_, tree_client);
      EXPECT_EQ(warning_.empty(), tree_warning.empty());
      EXPECT_EQ(exported, j.is_object() && j.contains("x_distillguard"));
    }
    return line;
  }

  identity_resolver identity_;
  record_options opts_;
  pb::QueryEvent ev_;
  std::string client_;
  std::string warning_;
};

const char* const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123";

json chat_line() {
  return json::parse(R"({"ts": 1793577600.25, "client": "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
    "ip": "203.0.113.7", "user_agent": "OpenAI/Python 1.51.0", "method": "POST",
    "path": "/v1/chat/completions?debug=1",
    "request": {"model": "gpt-4o-mini", "temperature": 0, "max_tokens": 1, "logprobs": true,
                "top_logprobs": 5, "logit_bias": {"123": 100, "456": -50},
                "messages": [{"role": "system", "content": "Think step by step."},
                             {"role": "user", "content": "What is 2+2?"}]},
    "response": {"status": 200, "usage": {"prompt_tokens": 12, "completion_tokens": 1}}})");
}

TEST_F(record_test, chat_line_maps_like_the_live_gateway) {
  ASSERT_TRUE(map(chat_line()).is_ok());
  EXPECT_EQ(client_, key);
  EXPECT_EQ(ev_.ts_micros(), 1793577600250000);
  EXPECT_EQ(ev_.client_id(), identity_.client_id(credential_kind::bearer, key));
  EXPECT_EQ(ev_.client_id().size(), 32u);
  EXPECT_EQ(ev_.client_hint(), credential_hint(key));
  EXPECT_EQ(ev_.client_hint().find("abcdefghij"), std::string::npos);  // never the key
  EXPECT_EQ(ev_.credential_kind(), pb::CREDENTIAL_BEARER);
  EXPECT_EQ(ev_.peer_address(), "203.0.113.7");
  EXPECT_EQ(ev_.user_agent(), "OpenAI/Python 1.51.0");
  EXPECT_EQ(ev_.method(), "POST");
  EXPECT_EQ(ev_.route(), "/v1/chat/completions");
  EXPECT_EQ(ev_.model(), "gpt-4o-mini");
  EXPECT_EQ(ev_.max_tokens(), 1u);
  EXPECT_TRUE(ev_.logprobs());
  EXPECT_EQ(ev_.top_logprobs(), 5u);
  EXPECT_EQ(ev_.logit_bias_count(), 2u);
  EXPECT_EQ(ev_.message_count(), 2u);
  EXPECT_NE(ev_.system_prompt_hash(), 0u);
  EXPECT_EQ(ev_.prompt_tokens(), 12u);
  EXPECT_EQ(ev_.completion_tokens(), 1u);
  EXPECT_EQ(ev_.status(), 200u);
  EXPECT_TRUE(warning_.empty());
}

TEST_F(record_test, same_key_same_id_other_secret_other_id) {
  ASSERT_TRUE(map(chat_line()).is_ok());
  const std::string a = ev_.client_id();
  ASSERT_TRUE(map(chat_line()).is_ok());
  EXPECT_EQ(ev_.client_id(), a);
  identity_resolver other("another secret, also long enough", "", {});
  opts_.identity = &other;
  ASSERT_TRUE(map(chat_line()).is_ok());
  EXPECT_NE(ev_.client_id(), a);
}

TEST_F(record_test, address_identifies_without_a_client) {
  json j = chat_line();
  j.erase("client");
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(client_, "203.0.113.7");
  EXPECT_EQ(ev_.client_id(), identity_.client_id(credential_kind::address, "203.0.113.7"));
  EXPECT_EQ(ev_.credential_kind(), pb::CREDENTIAL_ADDRESS);
  EXPECT_EQ(ev_.client_hint(), "203.0.113.7");
}

TEST_F(record_test, credential_kind_changes_the_id_as_live) {
  json j = chat_line();
  j["credential_kind"] = "api_key";
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(ev_.client_id(), identity_.client_id(credential_kind::api_key, key));
  EXPECT_EQ(ev_.credential_kind(), pb::CREDENTIAL_API_KEY);
  j["credential_kind"] = "cookie";
  EXPECT_FALSE(map(j).is_ok());
}

TEST_F(record_test, defaults_for_optional_fields) {
  ASSERT_TRUE(map(json::parse(R"({"ts": 1, "ip": "198.51.100.1", "request": {"prompt": "hi"}})")).is_ok());
  EXPECT_EQ(ev_.method(), "POST");
  EXPECT_EQ(ev_.status(), 200u);
  EXPECT_EQ(ev_.prompt_tokens(), 0u);
  EXPECT_EQ(ev_.ts_micros(), 1000000);
}

TEST_F(record_test, usage_of_other_apis) {
  json j = chat_line();
  j["response"] = {{"status", 200}, {"usage", {{"input_tokens", 30}, {"output_tokens", 400}}}};
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(ev_.prompt_tokens(), 30u);
  EXPECT_EQ(ev_.completion_tokens(), 400u);
  j["response"] = {{"status", 429}, {"usage", {{"prompt_tokens", 8}, {"total_tokens", 8}}}};
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(ev_.prompt_tokens(), 8u);
  EXPECT_EQ(ev_.status(), 429u);
  j["response"] = {{"usage", {{"total_tokens", 77}}}};
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(ev_.prompt_tokens(), 77u);  // embeddings report only the total
}

TEST_F(record_test, bad_records_say_why) {
  struct bad_case {
    const char* line;
    const char* why;
  };
  const bad_case cases[] = {
      {R"([1,2])", "not a JSON object"},
      {R"({"client": "k", "request": {}})", "missing \"ts\""},
      {R"({"ts": "yesterday", "client": "k", "request": {}})", "\"ts\" is not a number"},
      {R"({"ts": 1793577600000, "client": "k", "request": {}})", "seconds since the epoch"},
      {R"({"ts": -5, "client": "k", "request": {}})", "seconds since the epoch"},
      {R"({"ts": 1, "client": "k"})", "missing \"request\""},
      {R"({"ts": 1, "client": "k", "request": "hello"})", "\"request\" is not an object"},
      {R"({"ts": 1, "request": {}})", "neither \"client\" nor \"ip\""},
      {R"({"ts": 1, "client": "", "ip": "", "request": {}})", "neither \"client\" nor \"ip\""},
      {R"({"ts": 1, "x_distillguard": 5})", "\"x_distillguard\" is not an object"},
      {R"({"ts": 1, "x_distillguard": {"tsMicros": "nope"}})", "x_distillguard"},
      {R"({"ts": 1, "x_distillguard": {"model": "m"}})", "no client_id"},
  };
  for (const auto& c : cases) {
    const auto st = map(json::parse(c.line));
    EXPECT_FALSE(st.is_ok()) << c.line;
    EXPECT_NE(st.message().find(c.why), std::string::npos) << c.line << " -> " << st.message();
  }
}

TEST_F(record_test, exported_event_is_used_as_stored) {
  pb::QueryEvent stored;
  stored.set_ts_micros(1793577601123456);
  stored.set_client_id("00112233445566778899aabbccddeeff");
  stored.set_client_hint("sk-...wxyz");
  stored.set_credential_kind(pb::CREDENTIAL_API_KEY);
  stored.set_model("gpt-4o");
  stored.set_max_tokens(1);
  stored.set_logprobs(true);
  stored.set_prompt_text_mode(pb::PROMPT_TEXT_HASH);  // the text itself was not kept
  stored.set_prompt_text_hash(std::string(32, '\x07'));
  stored.set_completion_tokens(1);
  stored.mutable_features()->set_version(3);
  stored.mutable_features()->set_simhash(0xfedcba9876543210ULL);
  stored.mutable_features()->add_minhash(17);
  stored.mutable_features()->add_topic_buckets(4);
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(stored, &text).ok());
  json j = {{"ts", 1793577601.123456}, {"client", "sk-...wxyz"}, {"x_distillguard", json::parse(text)},
            {"request", {{"model", "something else"}}}};
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(ev_, stored)) << ev_.DebugString();
  EXPECT_EQ(client_, "sk-...wxyz");
  j.erase("client");
  ASSERT_TRUE(map(j).is_ok());
  EXPECT_EQ(client_, "sk-...wxyz");  // the stored hint names it
}

}  // namespace
}  // namespace dg::server
