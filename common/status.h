// status: an error as a value, in the manner of LevelDB's Status. Errors are
// converted to a status once, at the boundary where they happen.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace dg {

class status {
 public:
  enum class code { ok, invalid_argument, not_found, io_error, corruption, unavailable, internal };

  status() = default;
  static status ok() { return {}; }
  static status invalid_argument(std::string msg) { return {code::invalid_argument, std::move(msg)}; }
  static status not_found(std::string msg) { return {code::not_found, std::move(msg)}; }
  static status io_error(std::string msg) { return {code::io_error, std::move(msg)}; }
  static status corruption(std::string msg) { return {code::corruption, std::move(msg)}; }
  static status unavailable(std::string msg) { return {code::unavailable, std::move(msg)}; }
  static status internal(std::string msg) { return {code::internal, std::move(msg)}; }

  bool is_ok() const { return code_ == code::ok; }
  explicit operator bool() const { return is_ok(); }
  code error_code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  status(code c, std::string msg) : code_(c), message_(std::move(msg)) {}
  code code_ = code::ok;
  std::string message_;
};

inline std::string status::to_string() const {
  static constexpr std::string_view names[] = {"ok",        "invalid argument", "not found",
                                               "I/O error", "corruption",       "unavailable",
                                               "internal"};
  std::string out(names[static_cast<int>(code_)]);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace dg
