// The mock's HTTP server on a loopback port: keep-alive, paced streams, hooks.
#include "server/mock_upstream.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace dg::server::mock {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

class mock_upstream_test : public ::testing::Test {
 protected:
  void start(int token_delay_ms) {
    upstream_options o;
    o.token_delay_ms = token_delay_ms;
    o.threads = 2;
    server_ = std::make_unique<upstream_server>(o);
    std::string error;
    ASSERT_TRUE(server_->start(error)) << error;
    const std::string ep = server_->endpoint();
    port_ = static_cast<std::uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      server_->wait();
    }
  }
  tcp::socket connect() {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    return s;
  }
  static http::response<http::string_body> roundtrip(tcp::socket& s, http::request<http::string_body> req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }
  static http::request<http::string_body> post(std::string target, const json& body) {
    http::request<http::string_body> req(http::verb::post, target, 11);
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
    return req;
  }
  json stats() {
    auto s = connect();
    auto res = roundtrip(s, http::request<http::string_body>(http::verb::get, "/_mock/stats", 11));
    return json::parse(res.body());
  }

  net::io_context ioc_;
  std::unique_ptr<upstream_server> server_;
  std::uint16_t port_ = 0;
};

const json chat_body = {{"model", "gpt-4o-mini"},
                        {"max_tokens", 8},
                        {"messages", {{{"role", "user"}, {"content", "How do bees make honey?"}}}}};

TEST_F(mock_upstream_test, keeps_the_connection_alive_across_requests) {
  start(0);
  auto s = connect();
  for (int i = 0; i < 3; ++i) {
    auto res = roundtrip(s, post("/v1/chat/completions", chat_body));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
    EXPECT_EQ(json::parse(res.body())["usage"]["completion_tokens"], 8);
  }
  // A streamed answer on the same connection, then a plain one again.
  json streamed = chat_body;
  streamed["stream"] = true;
  auto res = roundtrip(s, post("/v1/chat/completions", streamed));
  EXPECT_EQ(res[http::field::content_type], "text/event-stream; charset=utf-8");
  EXPECT_TRUE(res.chunked());
  EXPECT_TRUE(res.body().ends_with("data: [DONE]\n\n"));
  res = roundtrip(s, post("/v1/chat/completions", chat_body));
  EXPECT_EQ(res.result_int(), 200);
  const json st = stats();
  EXPECT_EQ(st["accepts"], 2);  // this connection and the stats one
  EXPECT_EQ(st["requests"], 6);
  EXPECT_EQ(st["streams_completed"], 1);
}

TEST_F(mock_upstream_test, paced_stream_sends_the_first_event_before_the_last) {
  start(40);
  auto s = connect();
  json streamed = chat_body;
  streamed["stream"] = true;
  auto req = post("/v1/chat/completions", streamed);
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::write(s, req);
  // Read until the first event is complete; the stream must not be over yet.
  std::string got;
  char buf[4096];
  while (got.find("\n\n", got.find("data: ")) == std::string::npos || got.find("data: ") == std::string::npos) {
    got.append(buf, s.read_some(net::buffer(buf)));
  }
  EXPECT_EQ(got.find("[DONE]"), std::string::npos) << "the whole stream came at once: " << got;
  // The rest arrives, ending with the last chunk.
  while (got.find("0\r\n\r\n") == std::string::npos) got.append(buf, s.read_some(net::buffer(buf)));
  EXPECT_NE(got.find("data: [DONE]"), std::string::npos);
}

TEST_F(mock_upstream_test, per_request_delay_and_failure_hooks) {
  start(0);
  auto s = connect();
  auto req = post("/v1/chat/completions", chat_body);
  req.set("x-mock-status", "503");
  auto res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(json::parse(res.body())["error"]["type"], "server_error");

  auto c = connect();
  req = post("/v1/chat/completions", chat_body);
  req.set("x-mock-close", "1");
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::write(c, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> r2;
  boost::system::error_code ec;
  http::read(c, buf, r2, ec);
  EXPECT_TRUE(ec) << "expected the connection to be closed without an answer";
}

TEST_F(mock_upstream_test, answers_expect_100_continue) {
  start(0);
  auto s = connect();
  auto req = post("/v1/chat/completions", chat_body);
  req.set(http::field::expect, "100-continue");
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::request_serializer<http::string_body> sr(req);
  http::write_header(s, sr);
  boost::beast::flat_buffer buf;
  http::response<http::empty_body> cont;
  http::read(s, buf, cont);
  EXPECT_EQ(cont.result(), http::status::continue_);
  http::write(s, sr);
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 200);
}

TEST_F(mock_upstream_test, bad_json_is_a_400_in_the_openai_shape) {
  start(0);
  auto s = connect();
  http::request<http::string_body> req(http::verb::post, "/v1/chat/completions", 11);
  req.body() = "{oops";
  auto res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(json::parse(res.body())["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(res.keep_alive());
}

}  // namespace
}  // namespace dg::server::mock
