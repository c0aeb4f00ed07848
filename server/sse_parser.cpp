#include "server/sse_parser.h"

namespace dg::server {

void sse_parser::feed(std::string_view bytes, const handler& on_event) {
  // One leading BOM is dropped however the reads split it: its bytes are held
  // until they are known to be one, or given back as text when they are not.
  // (A BOM kept whole in the first line would hide that line's field from the
  // relay, while a client, which strips it, would still see the field.)
  static constexpr std::string_view bom = "\xEF\xBB\xBF";
  while (at_start_ && !bytes.empty()) {
    if (bytes.front() == bom[bom_held_]) {
      bytes.remove_prefix(1);
      if (++bom_held_ == bom.size()) at_start_ = false;
      continue;
    }
    at_start_ = false;
    if (bom_held_ > 0) feed_lines(bom.substr(0, bom_held_), on_event);
  }
  feed_lines(bytes, on_event);
}

void sse_parser::feed_lines(std::string_view bytes, const handler& on_event) {
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        if (keep_raw_ && !skipping_) cur_.raw.push_back('\n');
        bytes.remove_prefix(1);
        continue;
      }
    }
    const auto end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (!skipping_) {
        line_.append(bytes);
        if (pending_bytes() > max_event_bytes_) {
          skipping_ = true;
          ++oversized_;
          line_.clear();
          cur_ = sse_event{};
        }
      }
      return;
    }
    const char terminator = bytes[end];
    // A CRLF inside this chunk is one line end; a CR at its very end may be
    // followed by the LF in the next chunk.
    std::size_t term_len = 1;
    if (terminator == '\r' && end + 1 < bytes.size() && bytes[end + 1] == '\n') term_len = 2;
    std::string_view line = bytes.substr(0, end);
    if (!line_.empty()) {
      line_.append(line);
      line = line_;
    }
    if (keep_raw_ && !skipping_) {
      cur_.raw.append(line);
      cur_.raw.append(bytes.substr(end, term_len));
    }
    const bool cr_at_end = terminator == '\r' && term_len == 1 && end + 1 == bytes.size();
    bytes.remove_prefix(end + term_len);
    on_line(line, on_event);
    line_.clear();
    if (cr_at_end) after_cr_ = true;
  }
}

void sse_parser::on_line(std::string_view line, const handler& on_event) {
  if (line.empty()) {
    if (skipping_) {
      skipping_ = false;
      cur_ = sse_event{};
      seen_any_ = false;
      return;
    }
    dispatch(on_event);
    return;
  }
  if (skipping_) return;
  seen_any_ = true;
  if (line.front() == ':') return;  // comment
  std::string_view name = line;
  std::string_view value;
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (cur_.has_data) cur_.data.push_back('\n');
    cur_.data.append(value);
    cur_.has_data = true;
  } else if (name == "event") {
    cur_.event.assign(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) cur_.id.assign(value);
  }
  // "retry" and unknown fields are ignored (kept in raw).
  if (pending_bytes() > max_event_bytes_) {
    skipping_ = true;
    ++oversized_;
    cur_ = sse_event{};
  }
}

void sse_parser::dispatch(const handler& on_event) {
  if (cur_.has_data || (keep_raw_ && seen_any_)) on_event(cur_);
  cur_.event.clear();
  cur_.data.clear();
  cur_.id.clear();
  cur_.raw.clear();
  cur_.has_data = false;
  seen_any_ = false;
}

std::string sse_parser::serialize(const sse_event& e) {
  std::string out;
  out.reserve(e.data.size() + e.event.size() + e.id.size() + 32);
  if (!e.event.empty()) out.append("event: ").append(e.event).push_back('\n');
  if (!e.id.empty()) out.append("id: ").append(e.id).push_back('\n');
  if (e.has_data) {
    std::string_view d = e.data;
    while (true) {
      const auto nl = d.find('\n');
      out.append("data: ").append(d.substr(0, nl)).push_back('\n');
      if (nl == std::string_view::npos) break;
      d.remove_prefix(nl + 1);
    }
  }
  out.push_back('\n');
  return out;
}

}  // namespace dg::server
