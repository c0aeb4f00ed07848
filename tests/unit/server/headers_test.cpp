#include "server/headers.h"

#include <gtest/gtest.h>

namespace dg::server {
namespace {

namespace http = boost::beast::http;

TEST(headers, routes_are_a_fixed_set) {
  EXPECT_EQ(classify_route("/v1/chat/completions"), route_kind::chat_completions);
  EXPECT_EQ(classify_route("/v1/chat/completions?x=1"), route_kind::chat_completions);
  EXPECT_EQ(classify_route("/openai/v1/embeddings/"), route_kind::embeddings);
  EXPECT_EQ(classify_route("/v1/completions"), route_kind::completions);
  EXPECT_EQ(classify_route("/v1/responses/resp_1"), route_kind::responses);
  EXPECT_EQ(classify_route("/v1/models/gpt-4o"), route_kind::models);
  EXPECT_EQ(classify_route("/v1/files"), route_kind::other);
  EXPECT_EQ(classify_route("/"), route_kind::other);
  EXPECT_EQ(to_string(route_kind::chat_completions), "chat_completions");
  EXPECT_EQ(path_of("/v1/models?limit=2"), "/v1/models");
}

TEST(headers, framing_refuses_smuggling_shapes) {
  http::fields ok;
  ok.set(http::field::content_length, "5");
  EXPECT_EQ(check_request_framing(ok, 11), "");

  http::fields two_cl;
  two_cl.insert(http::field::content_length, "5");
  two_cl.insert(http::field::content_length, "5");
  EXPECT_NE(check_request_framing(two_cl, 11), "");

  http::fields cl_list;
  cl_list.insert(http::field::content_length, "5, 5");
  EXPECT_NE(check_request_framing(cl_list, 11), "");

  http::fields both;
  both.insert(http::field::content_length, "5");
  both.insert(http::field::transfer_encoding, "chunked");
  EXPECT_NE(check_request_framing(both, 11), "");

  http::fields gzip;
  gzip.insert(http::field::transfer_encoding, "gzip, chunked");
  EXPECT_NE(check_request_framing(gzip, 11), "");

  http::fields chunked;
  chunked.insert(http::field::transfer_encoding, " Chunked ");
  EXPECT_EQ(check_request_framing(chunked, 11), "");
  EXPECT_NE(check_request_framing(chunked, 10), "");

  http::fields two_te;
  two_te.insert(http::field::transfer_encoding, "chunked");
  two_te.insert(http::field::transfer_encoding, "chunked");
  EXPECT_NE(check_request_framing(two_te, 11), "");
}

TEST(headers, obs_fold) {
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n"));
}

TEST(headers, hop_by_hop_are_stripped_with_connection_tokens) {
  http::fields f;
  f.insert(http::field::connection, "keep-alive, X-Secret-Hop");
  f.insert(http::field::keep_alive, "timeout=5");
  f.insert(http::field::te, "trailers");
  f.insert(http::field::trailer, "x");
  f.insert(http::field::upgrade, "websocket");
  f.insert(http::field::proxy_authorization, "Basic abc");
  f.insert("Proxy-Connection", "keep-alive");
  f.insert("X-Secret-Hop", "1");
  f.insert(http::field::transfer_encoding, "chunked");
  f.insert(http::field::authorization, "Bearer k");
  f.insert("X-Keep", "yes");
  strip_hop_by_hop(f);
  int n = 0;
  for (const auto& field : f) {
    ++n;
    EXPECT_TRUE(field.name_string() == "Authorization" || field.name_string() == "X-Keep")
        << field.name_string();
  }
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(is_hop_by_hop("PROXY-foo"));
  EXPECT_FALSE(is_hop_by_hop("proxy"));
}

TEST(headers, forwarded_for_appends_only_behind_trusted_proxies) {
  EXPECT_EQ(forwarded_for("1.2.3.4", false, "10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(forwarded_for("1.2.3.4", true, "10.0.0.1"), "1.2.3.4, 10.0.0.1");
  EXPECT_EQ(forwarded_for("", true, "10.0.0.1"), "10.0.0.1");
}

TEST(headers, streaming_probe_and_include_usage) {
  EXPECT_TRUE(probably_streaming(R"({"model":"m","stream" : true})"));
  EXPECT_FALSE(probably_streaming(R"({"model":"m","stream":false})"));
  EXPECT_FALSE(probably_streaming(R"({"model":"m"})"));

  std::string body = R"({"model":"m","messages":[],"stream":true})";
  bool streaming = false;
  EXPECT_TRUE(add_include_usage(body, streaming));
  EXPECT_TRUE(streaming);
  EXPECT_EQ(body, R"({"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}})");

  std::string already = R"({"stream":true,"stream_options":{"include_usage":true}})";
  EXPECT_FALSE(add_include_usage(already, streaming));
  EXPECT_TRUE(streaming);

  std::string other_opts = R"({"stream":true,"stream_options":{"x":1}})";
  EXPECT_TRUE(add_include_usage(other_opts, streaming));
  EXPECT_EQ(other_opts, R"({"stream":true,"stream_options":{"x":1,"include_usage":true}})");

  // The word inside a message is not the parameter.
  std::string in_text = R"({"messages":[{"content":"\"stream\": true"}],"stream":false})";
  const std::string before = in_text;
  EXPECT_FALSE(add_include_usage(in_text, streaming));
  EXPECT_FALSE(streaming);
  EXPECT_EQ(in_text, before);

  std::string garbage = "\"stream\":true {{{";
  EXPECT_FALSE(add_include_usage(garbage, streaming));
}

TEST(headers, deep_json_is_left_alone) {
  std::string deep = "{\"stream\":true,\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  bool streaming = false;
  EXPECT_TRUE(json_deeper_than(deep, 256));
  EXPECT_FALSE(add_include_usage(deep, streaming));
  EXPECT_FALSE(json_deeper_than(R"({"a":"[[[[[[[[[[[[","b":[1]})", 3));
}

}  // namespace
}  // namespace dg::server
