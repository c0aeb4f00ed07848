#include "server/upstream_pool.h"

#include <chrono>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

namespace dg::server {
namespace {

// A pool on a loopback listener; the test plays the upstream with the
// accepted sockets.
struct pool_rig {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  upstream_options opts;
  std::unique_ptr<upstream_pool> pool;

  pool_rig() {
    opts.url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    opts.parsed.host = "127.0.0.1";
    opts.parsed.port = acceptor.local_endpoint().port();
    pool = std::make_unique<upstream_pool>(ioc, opts, nullptr, 4);
  }

  // Opens a connection through the pool; `server` gets the upstream's end.
  std::unique_ptr<upstream_connection> open(tcp::socket& server) {
    std::unique_ptr<upstream_connection> slot;
    bool connected = false;
    bool accepted = false;
    boost::system::error_code result;
    pool->connect(slot, [&](boost::system::error_code ec, auto) {
      result = ec;
      connected = true;
    });
    acceptor.async_accept(server, [&](boost::system::error_code) { accepted = true; });
    while (!connected || !accepted) ioc.run_one();
    ioc.restart();
    EXPECT_FALSE(result) << result.message();
    return slot;
  }
};

TEST(upstream_pool, connection_is_non_blocking_for_direct_writes) {
  pool_rig rig;
  tcp::socket server(rig.ioc);
  auto c = rig.open(server);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->socket().non_blocking());
}

TEST(upstream_pool, reuses_the_most_recent_connection) {
  pool_rig rig;
  tcp::socket s1(rig.ioc), s2(rig.ioc);
  auto a = rig.open(s1);
  auto b = rig.open(s2);
  upstream_connection* bp = b.get();
  rig.pool->release(std::move(a));
  rig.pool->release(std::move(b));
  EXPECT_EQ(rig.pool->idle(), 2u);
  auto got = rig.pool->acquire();
  EXPECT_EQ(got.get(), bp);
  EXPECT_EQ(rig.pool->idle(), 1u);
}

TEST(upstream_pool, connection_with_unread_bytes_is_not_pooled) {
  pool_rig rig;
  tcp::socket server(rig.ioc);
  auto c = rig.open(server);
  auto mb = c->buffer.prepare(4);
  std::memcpy(mb.data(), "0\r\n\r", 4);
  c->buffer.commit(4);  // bytes after a complete response
  rig.pool->release(std::move(c));
  EXPECT_EQ(rig.pool->idle(), 0u);
}

// The fast path: a connection idle for less than trust_idle is handed out
// without the recv(MSG_PEEK) look, even if the upstream has closed it (the
// session then resends on a fresh connection); what the look would see, it
// still sees once the connection has been idle longer.
TEST(upstream_pool, look_at_the_socket_only_after_trust_idle) {
  pool_rig rig;
  tcp::socket server(rig.ioc);
  auto c = rig.open(server);
  upstream_connection* cp = c.get();
  rig.pool->release(std::move(c));
  server.close();  // the upstream closes the idle connection
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // its FIN has arrived
  auto got = rig.pool->acquire();
  ASSERT_EQ(got.get(), cp);          // trusted: not looked at
  EXPECT_FALSE(got->looks_alive());  // the look would have refused it

  tcp::socket server2(rig.ioc);
  auto d = rig.open(server2);
  rig.pool->release(std::move(d));
  server2.close();
  std::this_thread::sleep_for(upstream_pool::trust_idle + std::chrono::milliseconds(100));
  EXPECT_TRUE(rig.pool->acquire() == nullptr);  // looked at: closed, so dropped
  EXPECT_EQ(rig.pool->idle(), 0u);

  tcp::socket server3(rig.ioc);
  auto e = rig.open(server3);
  upstream_connection* ep = e.get();
  rig.pool->release(std::move(e));
  std::this_thread::sleep_for(upstream_pool::trust_idle + std::chrono::milliseconds(100));
  EXPECT_EQ(rig.pool->acquire().get(), ep);  // looked at: alive, so reused
}

}  // namespace
}  // namespace dg::server
