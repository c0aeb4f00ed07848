// sse_streams: opens many concurrent slow server-sent-event streams through a
// gateway and reports how many it held and the gateway's resident memory per
// stream. Run by tests/bench/sse_bench.sh against mock-upstream with a token
// delay, so that every stream stays open for minutes.
//
//   sse_streams --target 127.0.0.1:8080 --streams 10000 --pid GATEWAY_PID[,PID...]
//               [--connect-rate 2000] [--hold-seconds 5] [--keys 1000] [--max-tokens 400]
//
// A stream is held when its first event has arrived and the connection is still
// open without having finished. The gateway's RSS is read from
// /proc/PID/status before the first connection and while every stream is held;
// the result is one JSON line on stdout. Single-threaded Asio: the client's own
// cost stays small next to the gateway's.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio.hpp>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  int streams = 10000;
  int connect_rate = 2000;  // new connections per second
  int hold_seconds = 5;     // how long all streams are held before measuring again
  int keys = 1000;          // distinct API keys (clients)
  int max_tokens = 400;
  std::vector<int> pids;    // the gateway (or nginx's master and workers), for RSS
  int first_event_timeout_s = 60;
};

// The summed VmRSS of the processes, in KiB.
long rss_kib(const std::vector<int>& pids) {
  long sum = 0;
  for (const int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.starts_with("VmRSS:")) sum += std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return sum;
}

struct totals {
  int connected = 0;
  int connect_failed = 0;
  int first_event = 0;
  int open = 0;          // connected and not closed
  int finished = 0;      // the stream ended normally ([DONE] or last chunk)
  int failed = 0;        // closed or refused before its first event / mid-stream
  int non_200 = 0;
  int ended_after_first = 0;  // had its first event, then finished or failed
  std::uint64_t bytes = 0;
  // Held: first event received and still streaming.
  int held() const { return first_event - ended_after_first; }
};

class stream : public std::enable_shared_from_this<stream> {
 public:
  stream(net::io_context& ioc, totals& t, std::string request)
      : socket_(ioc), totals_(t), request_(std::move(request)) {}

  void start(const tcp::endpoint& ep) {
    socket_.async_connect(ep, [self = shared_from_this()](boost::system::error_code ec) { self->on_connect(ec); });
  }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void on_connect(boost::system::error_code ec) {
    if (ec) {
      ++totals_.connect_failed;
      return;
    }
    ++totals_.connected;
    ++totals_.open;
    net::async_write(socket_, net::buffer(request_), [self = shared_from_this()](boost::system::error_code e, std::size_t) {
      self->request_ = std::string();  // free it: only the stream's state stays
      if (e) return self->end(false);
      self->read();
    });
  }

  void read() {
    socket_.async_read_some(net::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) return end(false);
    totals_.bytes += n;
    const std::string_view data(buf_.data(), n);
    if (!got_head_) {
      // Keep only what is needed to see the status line and the first event.
      head_.append(data);
      if (head_.size() >= 12 && !head_.starts_with("HTTP/1.1 200")) {
        ++totals_.non_200;
        return end(false);
      }
      if (head_.find("\r\n\r\n") != std::string::npos && head_.find("data: ") != std::string::npos &&
          head_.find("\n\n", head_.find("data: ")) != std::string::npos) {
        got_head_ = true;
        ++totals_.first_event;
        head_ = std::string();
      } else if (head_.size() > 64 * 1024) {
        return end(false);
      }
    }
    // [DONE], or the last chunk of the chunked body: the stream is over. Only
    // in the body: a header block may well end in "0\r\n\r\n" too.
    if (got_head_ && (data.find("[DONE]") != std::string_view::npos || data.ends_with("\r\n0\r\n\r\n"))) {
      return end(true);
    }
    read();
  }

  void end(bool finished) {
    if (ended_) return;
    ended_ = true;
    --totals_.open;
    if (got_head_) ++totals_.ended_after_first;
    if (finished) {
      ++totals_.finished;
    } else {
      ++totals_.failed;
    }
    close();
  }

  tcp::socket socket_;
  totals& totals_;
  std::string request_;
  std::string head_;
  std::array<char, 2048> buf_{};
  bool got_head_ = false;
  bool ended_ = false;
};

std::string make_request(const options& o, int i) {
  char body[512];
  std::snprintf(body, sizeof body,
                R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)"
                R"("max_tokens":%d,"messages":[{"role":"user","content":"Tell me a long story about lighthouse keeper number %d and the winter storm."}]})",
                o.max_tokens, i);
  char head[512];
  std::snprintf(head, sizeof head,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                "Accept: text/event-stream\r\nAuthorization: Bearer sk-sse-bench-%05d\r\nContent-Length: %zu\r\n\r\n",
                o.host.c_str(), o.port.c_str(), i % std::max(1, o.keys), std::strlen(body));
  return std::string(head) + body;
}

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--target") {
      const std::string t = v;
      const auto colon = t.rfind(':');
      if (colon == std::string::npos) return false;
      o.host = t.substr(0, colon);
      o.port = t.substr(colon + 1);
    } else if (k == "--streams") {
      o.streams = std::atoi(v);
    } else if (k == "--connect-rate") {
      o.connect_rate = std::atoi(v);
    } else if (k == "--hold-seconds") {
      o.hold_seconds = std::atoi(v);
    } else if (k == "--keys") {
      o.keys = std::atoi(v);
    } else if (k == "--max-tokens") {
      o.max_tokens = std::atoi(v);
    } else if (k == "--pid") {
      // One PID or several, comma-separated (their RSS is summed).
      for (const char* p = v; *p != '\0';) {
        o.pids.push_back(std::atoi(p));
        while (*p != '\0' && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else if (k == "--first-event-timeout") {
      o.first_event_timeout_s = std::atoi(v);
    } else {
      return false;
    }
  }
  return (argc % 2) == 1 && o.streams > 0 && o.connect_rate > 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: sse_streams --target HOST:PORT [--streams N] [--pid PID[,PID...]] [--connect-rate N/s]\n"
                 "                   [--hold-seconds S] [--keys N] [--max-tokens N] [--first-event-timeout S]\n");
    return 2;
  }
  net::io_context ioc(1);
  const tcp::endpoint ep(net::ip::make_address(o.host), static_cast<unsigned short>(std::atoi(o.port.c_str())));
  totals t;
  std::vector<std::shared_ptr<stream>> all;
  all.reserve(static_cast<std::size_t>(o.streams));

  const long rss_before = rss_kib(o.pids);
  const auto start = clock_type::now();
  // Connections are opened at connect_rate per second, in 10 ms ticks.
  net::steady_timer tick(ioc);
  int opened = 0;
  long rss_peak = rss_before;
  int held_at_peak = 0;
  enum class phase { ramp, wait_first, hold, done } ph = phase::ramp;
  clock_type::time_point hold_until{};
  clock_type::time_point last_sample{};
  const auto first_deadline = start + std::chrono::seconds(o.first_event_timeout_s) +
                              std::chrono::milliseconds(1000LL * o.streams / o.connect_rate);
  std::function<void()> on_tick = [&] {
    const auto now = clock_type::now();
    if (ph == phase::ramp) {
      const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
      const int due = std::min<long long>(o.streams, (elapsed_ms + 10) * o.connect_rate / 1000);
      for (; opened < due; ++opened) {
        auto s = std::make_shared<stream>(ioc, t, make_request(o, opened));
        s->start(ep);
        all.push_back(std::move(s));
      }
      if (opened == o.streams) ph = phase::wait_first;
    }
    if (ph == phase::wait_first) {
      // Every stream has had its first event or has ended (failed ones included).
      const int settled = t.first_event + (t.finished + t.failed - t.ended_after_first) + t.connect_failed;
      if (settled >= o.streams || now > first_deadline) {
        ph = phase::hold;
        hold_until = now + std::chrono::seconds(o.hold_seconds);
      }
    }
    if (ph == phase::hold || ph == phase::wait_first) {
      // Sample the gateway's memory while streams are held; keep the peak.
      if (now - last_sample > std::chrono::milliseconds(250)) {
        last_sample = now;
        const long r = rss_kib(o.pids);
        if (r > rss_peak) {
          rss_peak = r;
          held_at_peak = t.held();
        }
      }
    }
    if (ph == phase::hold && now >= hold_until) {
      ph = phase::done;
      return;
    }
    tick.expires_after(std::chrono::milliseconds(10));
    tick.async_wait([&](boost::system::error_code ec) {
      if (!ec) on_tick();
    });
  };
  on_tick();
  while (ph != phase::done) {
    ioc.run_one();
  }
  // Held now: first event received and neither failed nor finished since.
  const int held = t.held();
  const long rss_during = rss_kib(o.pids);
  const auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  const totals at_end = t;  // before closing, which ends every stream
  for (auto& s : all) s->close();
  ioc.poll();
  t = at_end;

  const long grown = std::max(rss_during, rss_peak) - rss_before;
  std::printf(
      "{\"streams\":%d,\"connected\":%d,\"connect_failed\":%d,\"non_200\":%d,\"first_event\":%d,"
      "\"held\":%d,\"finished_early\":%d,\"failed\":%d,\"rss_before_kib\":%ld,\"rss_during_kib\":%ld,"
      "\"rss_peak_kib\":%ld,\"held_at_peak\":%d,\"rss_per_stream_bytes\":%.0f,\"bytes_received\":%llu,\"seconds\":%.1f}\n",
      o.streams, t.connected, t.connect_failed, t.non_200, t.first_event, held, t.finished, t.failed, rss_before,
      rss_during, rss_peak, held_at_peak, held > 0 ? 1024.0 * static_cast<double>(grown) / held : 0.0,
      static_cast<unsigned long long>(t.bytes), elapsed);
  return held > 0 ? 0 : 1;
}
