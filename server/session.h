// session: one client connection, in the shape of Beast's async server
// example: do_read -> on_read -> the request's phases -> write -> do_read |
// do_close. Each phase of DESIGN.md's request path is one named member
// function, in order: read, identify, admit (and shape), forward, relay,
// account, record.
//
// A session and the upstream connection it uses live on one worker's
// io_context (one thread), so a session needs no strand and no lock.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "server/proxy_context.h"

namespace dg::server {

// Starts a session on an accepted socket (which belongs to `w.ioc`). With a
// non-null `tls`, the session speaks TLS to the client.
void start_session(proxy_context& ctx, worker& w, boost::asio::ip::tcp::socket socket,
                   boost::asio::ssl::context* tls);

}  // namespace dg::server
