#include "server/replay_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "detectors/request_parser.h"
#include "server/identity.h"

namespace dg::server {

namespace {

constexpr std::size_t chunk_bytes = 1u << 18;

gzFile as_gz(void* f) { return static_cast<gzFile>(f); }

}  // namespace

std::unique_ptr<line_reader> line_reader::open(const std::string& path, status& st) {
  int fd = 0;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      st = status::io_error(path + ": " + std::strerror(errno));
      return nullptr;
    }
  } else {
    fd = ::dup(0);  // gzclose closes it; keep our stdin open
    if (fd < 0) {
      st = status::io_error(std::string("stdin: ") + std::strerror(errno));
      return nullptr;
    }
  }
  std::unique_ptr<line_reader> r(new line_reader());
  struct stat sb {};
  if (::fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) r->total_bytes_ = static_cast<std::uint64_t>(sb.st_size);
  gzFile gz = ::gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);
    st = status::io_error(path + ": cannot open for reading (zlib)");
    return nullptr;
  }
  ::gzbuffer(gz, chunk_bytes);
  r->file_ = gz;
  st = status::ok();
  return r;
}

line_reader::~line_reader() {
  if (file_ != nullptr) ::gzclose(as_gz(file_));
}

bool line_reader::compressed() const { return file_ != nullptr && ::gzdirect(as_gz(file_)) == 0; }

std::uint64_t line_reader::bytes_consumed() const {
  if (file_ == nullptr) return 0;
  const auto off = ::gzoffset(as_gz(file_));
  return off < 0 ? 0 : static_cast<std::uint64_t>(off);
}

bool line_reader::fill() {
  if (eof_ || file_ == nullptr) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const std::size_t old = buf_.size();
  buf_.resize(old + chunk_bytes);
  const int n = ::gzread(as_gz(file_), buf_.data() + old, static_cast<unsigned>(chunk_bytes));
  if (n < 0) {
    int errnum = 0;
    const char* msg = ::gzerror(as_gz(file_), &errnum);
    error_ = status::io_error(std::string("read: ") + (errnum == Z_ERRNO ? std::strerror(errno) : msg));
    buf_.resize(old);
    eof_ = true;
    return false;
  }
  buf_.resize(old + static_cast<std::size_t>(n));
  if (n == 0) {
    // gzread returns 0 at the end, and also on a truncated gzip stream.
    int errnum = 0;
    const char* msg = ::gzerror(as_gz(file_), &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR) error_ = status::corruption(std::string("gzip: ") + msg);
    if (errnum == Z_BUF_ERROR) error_ = status::corruption("gzip: truncated input (unexpected end of file)");
    eof_ = true;
    return false;
  }
  return true;
}

line_reader::result line_reader::next(std::string& line) {
  bool skipping = false;    // inside an over-long line: discard up to its newline
  std::size_t scanned = 0;  // bytes after pos_ already known to hold no newline
  for (;;) {
    const std::size_t nl = buf_.find('\n', pos_ + scanned);
    if (nl != std::string::npos) {
      ++line_number_;
      const std::size_t begin = pos_;
      pos_ = nl + 1;
      if (skipping || nl - begin > max_line_bytes) return result::too_long;
      std::size_t end = nl;
      if (end > begin && buf_[end - 1] == '\r') --end;
      line.assign(buf_, begin, end - begin);
      return result::line;
    }
    scanned = buf_.size() - pos_;
    if (scanned > max_line_bytes) {
      skipping = true;
      buf_.clear();
      pos_ = 0;
      scanned = 0;
    }
    if (!fill()) {  // fill() moves the unread tail to the front: pos_ becomes 0
      if (!error_.is_ok()) return result::error;
      if (skipping || buf_.size() - pos_ > max_line_bytes) {
        ++line_number_;
        pos_ = buf_.size();
        return result::too_long;
      }
      if (pos_ < buf_.size()) {  // a last line without its newline
        ++line_number_;
        std::size_t end = buf_.size();
        if (buf_[end - 1] == '\r') --end;
        line.assign(buf_, pos_, end - pos_);
        pos_ = buf_.size();
        return result::line;
      }
      return result::end;
    }
  }
}

namespace {

using json = nlohmann::json;

std::string string_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// A non-negative integer count from usage, clamped to 32 bits.
std::uint32_t count_or_zero(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return 0;
  const double v = it->get<double>();
  if (!(v > 0)) return 0;
  if (v >= static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(v);
}

status read_ts(const json& record, std::int64_t& out) {
  auto it = record.find("ts");
  if (it == record.end()) return status::invalid_argument("missing \"ts\"");
  if (!it->is_number()) return status::invalid_argument("\"ts\" is not a number");
  const double ts = it->get<double>();
  // Between 1970 and 2200: catches milliseconds passed as seconds.
  if (!std::isfinite(ts) || ts < 0 || ts > 7.3e9) {
    return status::invalid_argument("\"ts\" is not seconds since the epoch");
  }
  out = std::llround(ts * 1e6);
  return status::ok();
}

}  // namespace

status event_from_record(const json& record, const record_options& options, pb::QueryEvent& ev,
                         std::string& client, std::string& request_warning) {
  ev.Clear();
  client.clear();
  request_warning.clear();
  if (!record.is_object()) return status::invalid_argument("not a JSON object");

  if (auto x = record.find("x_distillguard"); x != record.end()) {
    // The event as the live gateway stored it: used as is, features included.
    if (!x->is_object()) return status::invalid_argument("\"x_distillguard\" is not an object");
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // an export from a newer version
    const auto st = google::protobuf::util::JsonStringToMessage(x->dump(), &ev, opts);
    if (!st.ok()) return status::invalid_argument("\"x_distillguard\": " + st.ToString());
    if (ev.client_id().empty()) return status::invalid_argument("\"x_distillguard\" has no client_id");
    if (ev.ts_micros() <= 0) {
      std::int64_t ts = 0;
      if (auto s = read_ts(record, ts); !s.is_ok()) return s;
      ev.set_ts_micros(ts);
    }
    client = string_or_empty(record, "client");
    if (client.empty()) client = ev.client_hint().empty() ? ev.client_id() : ev.client_hint();
    return status::ok();
  }

  std::int64_t ts = 0;
  if (auto s = read_ts(record, ts); !s.is_ok()) return s;
  auto req = record.find("request");
  if (req == record.end()) return status::invalid_argument("missing \"request\"");
  if (!req->is_object()) return status::invalid_argument("\"request\" is not an object");

  const std::string key = string_or_empty(record, "client");
  const std::string ip = string_or_empty(record, "ip");
  if (key.empty() && ip.empty()) return status::invalid_argument("neither \"client\" nor \"ip\"");
  client = key.empty() ? ip : key;

  credential_kind kind = credential_kind::address;
  if (!key.empty()) {
    kind = options.default_kind;
    const std::string k = string_or_empty(record, "credential_kind");
    if (k == "bearer") kind = credential_kind::bearer;
    else if (k == "api_key") kind = credential_kind::api_key;
    else if (k == "header") kind = credential_kind::header;
    else if (!k.empty()) return status::invalid_argument("\"credential_kind\" must be bearer, api_key or header");
  }
  if (options.identity == nullptr) return status::internal("no identity resolver");
  ev.set_ts_micros(ts);
  // The same id and hint as identity_resolver::identify() gives the live request.
  ev.set_client_id(options.identity->client_id(kind, client));
  ev.set_client_hint(key.empty() ? ip : credential_hint(key));
  ev.set_credential_kind(static_cast<pb::CredentialKind>(kind));
  ev.set_peer_address(ip);
  ev.set_user_agent(string_or_empty(record, "user_agent"));
  std::string method = string_or_empty(record, "method");
  ev.set_method(method.empty() ? "POST" : method);
  std::string path = string_or_empty(record, "path");
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  ev.set_route(path);

  if (auto st = detectors::parse_request_json(*req, ev); !st.is_ok()) request_warning = st.to_string();

  std::uint32_t http_status = 200;
  if (auto resp = record.find("response"); resp != record.end() && resp->is_object()) {
    if (auto s = resp->find("status"); s != resp->end() && s->is_number_integer()) {
      const auto v = s->get<std::int64_t>();
      if (v >= 100 && v <= 599) http_status = static_cast<std::uint32_t>(v);
    }
    if (auto u = resp->find("usage"); u != resp->end() && u->is_object()) {
      // chat/completions name them prompt/completion; the responses API input/output.
      std::uint32_t in = count_or_zero(*u, "prompt_tokens");
      if (in == 0) in = count_or_zero(*u, "input_tokens");
      std::uint32_t out = count_or_zero(*u, "completion_tokens");
      if (out == 0) out = count_or_zero(*u, "output_tokens");
      if (in == 0 && out == 0) in = count_or_zero(*u, "total_tokens");  // embeddings
      ev.set_prompt_tokens(in);
      ev.set_completion_tokens(out);
    }
  }
  ev.set_status(http_status);
  return status::ok();
}

}  // namespace dg::server
