#include "common/config_node.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace dg {

std::string config_errors::joined() const {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += '\n';
    out += m;
  }
  return out;
}

config_node::config_node(YAML::Node node, std::string path, std::shared_ptr<config_errors> errors)
    : node_(std::move(node)), path_(std::move(path)), errors_(std::move(errors)) {
  if (present() && !node_.IsMap()) {
    errors_->messages.push_back(where(node_) + (path_.empty() ? "the file" : "key '" + path_ + "'") +
                                ": expected a mapping of keys to values");
    node_ = YAML::Node();
  }
}

config_node config_node::load_file(const std::string& file,
                                   std::shared_ptr<config_errors> errors) {
  errors->file = file;
  try {
    return config_node(YAML::LoadFile(file), "", errors);
  } catch (const YAML::BadFile&) {
    errors->messages.push_back(file + ": cannot open the file");
  } catch (const YAML::Exception& e) {
    errors->messages.push_back(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                               std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return config_node(YAML::Node(), "", errors);
}

config_node config_node::load_string(const std::string& text, const std::string& name,
                                     std::shared_ptr<config_errors> errors) {
  errors->file = name;
  try {
    return config_node(YAML::Load(text), "", errors);
  } catch (const YAML::Exception& e) {
    errors->messages.push_back(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                               std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return config_node(YAML::Node(), "", errors);
}

std::string config_node::key_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

std::string config_node::where(const YAML::Node& n) const {
  std::string out = errors_->file;
  const auto m = n.Mark();
  if (!m.is_null()) out += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  return out + ": ";
}

bool config_node::has(std::string_view key) const {
  return present() && node_[std::string(key)].IsDefined();
}

YAML::Node config_node::get(std::string_view key) {
  known_.emplace(key);
  if (!present()) return YAML::Node(YAML::NodeType::Undefined);
  // const access: a non-const operator[] would insert the key.
  const YAML::Node& cn = node_;
  return cn[std::string(key)];
}

void config_node::fail(std::string_view key, std::string_view message) {
  YAML::Node n = key.empty() ? node_ : get(key);
  if (!n.IsDefined()) n = node_;
  errors_->messages.push_back(where(n) + "key '" + key_path(key) + "': " + std::string(message));
}

config_node config_node::child(std::string_view key) {
  return config_node(get(key), key_path(key), errors_);
}

std::vector<config_node> config_node::child_list(std::string_view key) {
  std::vector<config_node> out;
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    fail(key, "expected a list");
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    out.emplace_back(n[i], key_path(key) + "[" + std::to_string(i) + "]", errors_);
  }
  return out;
}

void config_node::read(std::string_view key, std::string& out) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsScalar()) return fail(key, "expected a string");
  out = n.Scalar();
}

void config_node::read(std::string_view key, bool& out) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return fail(key, "expected true or false");
  out = v;
}

void config_node::read(std::string_view key, std::int64_t& out, std::int64_t min,
                       std::int64_t max) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  std::int64_t v = 0;
  const std::string& s = n.IsScalar() ? n.Scalar() : std::string();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return fail(key, "expected an integer");
  }
  if (v < min || v > max) {
    return fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         " (got " + s + ")");
  }
  out = v;
}

void config_node::read(std::string_view key, int& out, int min, int max) {
  std::int64_t v = out;
  read(key, v, min, max);
  out = static_cast<int>(v);
}

void config_node::read(std::string_view key, std::uint32_t& out, std::uint32_t min,
                       std::uint32_t max) {
  std::int64_t v = out;
  read(key, v, min, max);
  out = static_cast<std::uint32_t>(v);
}

void config_node::read(std::string_view key, double& out, double min, double max) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
    return fail(key, "expected a number");
  }
  if (v < min || v > max) {
    std::ostringstream msg;
    msg << "must be between " << min << " and " << max << " (got " << n.Scalar() << ")";
    return fail(key, msg.str());
  }
  out = v;
}

void config_node::read(std::string_view key, std::vector<std::string>& out) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) return fail(key, "expected a list of strings");
  std::vector<std::string> v;
  for (const auto& item : n) {
    if (!item.IsScalar()) return fail(key, "expected a list of strings");
    v.push_back(item.Scalar());
  }
  out = std::move(v);
}

void config_node::read_choice(std::string_view key, std::string& out,
                              std::initializer_list<std::string_view> choices) {
  std::string v = out;
  const std::size_t before = errors_->messages.size();
  read(key, v);
  if (errors_->messages.size() != before) return;
  for (auto c : choices) {
    if (v == c) {
      out = v;
      return;
    }
  }
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  fail(key, "must be one of " + list + " (got '" + v + "')");
}

void config_node::read_address(std::string_view key, std::string& host, std::uint16_t& port) {
  std::string v;
  const std::size_t before = errors_->messages.size();
  read(key, v);
  if (v.empty() || errors_->messages.size() != before) return;
  std::string h;
  std::string p;
  if (v.front() == '[') {
    const auto close = v.find(']');
    if (close == std::string::npos || close + 1 >= v.size() || v[close + 1] != ':') {
      return fail(key, "expected [IPv6]:PORT (got '" + v + "')");
    }
    h = v.substr(1, close - 1);
    p = v.substr(close + 2);
  } else {
    const auto colon = v.rfind(':');
    if (colon == std::string::npos) return fail(key, "expected HOST:PORT (got '" + v + "')");
    h = v.substr(0, colon);
    p = v.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (h.empty() || p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value > 65535) {
    return fail(key, "expected HOST:PORT with a port from 0 to 65535 (got '" + v + "')");
  }
  host = h;
  port = static_cast<std::uint16_t>(value);
}

void config_node::finish() {
  if (!present()) return;
  for (const auto& kv : node_) {
    const std::string k = kv.first.Scalar();
    if (!known_.contains(k)) {
      errors_->messages.push_back(where(kv.first) + "unknown key '" + key_path(k) + "'");
    }
  }
}

}  // namespace dg
