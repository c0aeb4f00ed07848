// config_node: a strict reader over one YAML mapping. Each part of distillguard
// reads its own block with it (storage/storage_options.cpp, ...). Every key read
// is marked known; finish() reports the keys nobody read. Errors are collected,
// not thrown, so that one run of check-config lists all of them, each as
//   FILE:LINE:COLUMN: key 'storage.flush_interval_ms': must be between 1 and 60000
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace dg {

struct config_errors {
  std::string file;
  std::vector<std::string> messages;
  bool empty() const { return messages.empty(); }
  std::string joined() const;  // one message a line
};

// Thrown once, at the end of loading, when any error was recorded.
class config_error : public std::runtime_error {
 public:
  explicit config_error(const config_errors& e) : std::runtime_error(e.joined()) {}
};

class config_node {
 public:
  // `node` may be undefined or null (an absent block): every read then keeps its default.
  config_node(YAML::Node node, std::string path, std::shared_ptr<config_errors> errors);

  // Loads `file`; on a YAML syntax error records it and returns an empty root.
  static config_node load_file(const std::string& file, std::shared_ptr<config_errors> errors);
  static config_node load_string(const std::string& text, const std::string& name,
                                 std::shared_ptr<config_errors> errors);

  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  bool has(std::string_view key) const;
  const std::string& path() const { return path_; }

  // A nested block; absent blocks give an empty node (defaults apply).
  config_node child(std::string_view key);
  // The entries of a sequence of mappings under `key`.
  std::vector<config_node> child_list(std::string_view key);

  // Each read leaves `out` unchanged if the key is absent, and records an error
  // (file, line, key, what was expected) if the value is malformed or out of range.
  void read(std::string_view key, std::string& out);
  void read(std::string_view key, bool& out);
  void read(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  void read(std::string_view key, int& out, int min, int max);
  void read(std::string_view key, std::uint32_t& out, std::uint32_t min, std::uint32_t max);
  void read(std::string_view key, double& out, double min, double max);
  void read(std::string_view key, std::vector<std::string>& out);
  // One of `choices`.
  void read_choice(std::string_view key, std::string& out,
                   std::initializer_list<std::string_view> choices);
  // A host:port address; IPv6 as [::1]:8080.
  void read_address(std::string_view key, std::string& host, std::uint16_t& port);

  // Records an error about `key` (or about this block when key is empty).
  void fail(std::string_view key, std::string_view message);
  // Reports every key of this mapping that was never read.
  void finish();

  std::shared_ptr<config_errors> errors() const { return errors_; }

 private:
  YAML::Node get(std::string_view key);
  std::string key_path(std::string_view key) const;
  std::string where(const YAML::Node& n) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<config_errors> errors_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace dg
