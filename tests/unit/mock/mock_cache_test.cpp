#include "server/mock_cache.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dg::server::mock {
namespace {

using json = nlohmann::json;

const std::string chat_body =
    R"({"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"What is a comet?"}]})";

TEST(mock_cache, a_hit_has_the_same_answer_with_a_fresh_id_and_created) {
  answer_cache cache(16);
  const request_context first{1793577600, 1};
  EXPECT_FALSE(cache.find("POST", "/v1/chat/completions", chat_body, first));
  const reply r = answer("POST", "/v1/chat/completions", chat_body, first);
  cache.remember("POST", "/v1/chat/completions", chat_body, r);

  const request_context later{1793577999, 2};
  const auto hit = cache.find("POST", "/v1/chat/completions", chat_body, later);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, 200u);
  const json a = json::parse(r.body), b = json::parse(hit->body);
  EXPECT_EQ(a["choices"], b["choices"]);
  EXPECT_EQ(a["usage"], b["usage"]);
  EXPECT_NE(a["id"], b["id"]);
  EXPECT_TRUE(b["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(b["id"].get<std::string>().size(), a["id"].get<std::string>().size());
  EXPECT_EQ(b["created"], 1793577999);
}

TEST(mock_cache, other_requests_miss_and_errors_and_streams_are_not_kept) {
  answer_cache cache(16);
  const request_context ctx{1793577600, 1};
  cache.remember("POST", "/v1/chat/completions", chat_body, answer("POST", "/v1/chat/completions", chat_body, ctx));
  EXPECT_FALSE(cache.find("POST", "/v1/completions", chat_body, ctx));
  EXPECT_FALSE(cache.find("POST", "/v1/chat/completions", chat_body + " ", ctx));

  cache.remember("POST", "/v1/chat/completions", "{bad", answer("POST", "/v1/chat/completions", "{bad", ctx));
  EXPECT_FALSE(cache.find("POST", "/v1/chat/completions", "{bad", ctx));

  const std::string streamed =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  cache.remember("POST", "/v1/chat/completions", streamed, answer("POST", "/v1/chat/completions", streamed, ctx));
  EXPECT_FALSE(cache.find("POST", "/v1/chat/completions", streamed, ctx));
}

TEST(mock_cache, responses_get_a_fresh_created_at_and_zero_capacity_is_off) {
  answer_cache cache(4);
  const std::string body = R"({"model":"gpt-4o-mini","input":"Hello","max_output_tokens":16})";
  cache.remember("POST", "/v1/responses", body, answer("POST", "/v1/responses", body, {1793577600, 1}));
  const auto hit = cache.find("POST", "/v1/responses", body, {1793570000, 9});
  ASSERT_TRUE(hit);
  EXPECT_EQ(json::parse(hit->body)["created_at"], 1793570000);
  EXPECT_TRUE(json::parse(hit->body)["id"].get<std::string>().starts_with("resp_"));

  answer_cache off(0);
  off.remember("POST", "/v1/responses", body, answer("POST", "/v1/responses", body, {1793577600, 1}));
  EXPECT_FALSE(off.find("POST", "/v1/responses", body, {1793577600, 2}));
}

}  // namespace
}  // namespace dg::server::mock
