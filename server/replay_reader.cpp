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
#include "server/replay_fields.h"

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

record_value value_of(const json& obj, const char* key) {
  record_value v;
  auto it = obj.find(key);
  if (it == obj.end()) return v;
  if (it->is_string()) {
    v.t = record_value::type::string;
    v.text = it->get<std::string>();
  } else if (it->is_number()) {
    v.t = record_value::type::number;
    v.number = it->get<double>();
    v.integer = it->is_number_integer();
  } else {
    v.t = it->is_object() ? record_value::type::object : record_value::type::other;
  }
  return v;
}

// The members that make the event (the request's own fields are read from the tree itself).
record_fields fields_of(const json& record) {
  record_fields f;
  f.ts = value_of(record, "ts");
  f.client = value_of(record, "client");
  f.ip = value_of(record, "ip");
  f.credential_kind = value_of(record, "credential_kind");
  f.user_agent = value_of(record, "user_agent");
  f.method = value_of(record, "method");
  f.path = value_of(record, "path");
  f.request = value_of(record, "request").t;
  if (auto resp = record.find("response"); resp != record.end() && resp->is_object()) {
    f.response_object = true;
    f.status = value_of(*resp, "status");
    if (auto u = resp->find("usage"); u != resp->end() && u->is_object()) {
      f.usage_object = true;
      f.prompt_tokens = value_of(*u, "prompt_tokens");
      f.input_tokens = value_of(*u, "input_tokens");
      f.completion_tokens = value_of(*u, "completion_tokens");
      f.output_tokens = value_of(*u, "output_tokens");
      f.total_tokens = value_of(*u, "total_tokens");
    }
  }
  return f;
}

}  // namespace

status event_from_record(const json& record, const record_options& options, pb::QueryEvent& ev,
                         std::string& client, std::string& request_warning) {
  ev.Clear();
  client.clear();
  request_warning.clear();
  if (!record.is_object()) return status::invalid_argument("not a JSON object");
  const record_fields f = fields_of(record);

  if (auto x = record.find("x_distillguard"); x != record.end()) {
    // The event as the live gateway stored it: used as is, features included.
    if (!x->is_object()) return status::invalid_argument("\"x_distillguard\" is not an object");
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // an export from a newer version
    const auto st = google::protobuf::util::JsonStringToMessage(x->dump(), &ev, opts);
    if (!st.ok()) return status::invalid_argument("\"x_distillguard\": " + st.ToString());
    return finish_exported_event(f, ev, client);
  }

  if (auto s = identify_record(f, options, ev, client); !s.is_ok()) return s;
  if (auto st = detectors::parse_request_json(*record.find("request"), ev); !st.is_ok()) request_warning = st.to_string();
  apply_response(f, ev);
  return status::ok();
}

}  // namespace dg::server
