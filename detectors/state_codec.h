// state_codec: the byte format of saved detector state (ClientRecord.detector_state).
// Little-endian fixed-width integers and doubles, length-prefixed sections so a
// reader can skip a detector it does not know. The reader never reads past the
// end: a truncated or corrupt record makes ok() false, never a crash.
// Thread safety: none (one writer/reader per record).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace dg::detectors {

class state_writer {
 public:
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  void put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <typename T>
  void put_array(const T* data, std::size_t n) {
    put<std::uint32_t>(static_cast<std::uint32_t>(n));
    out_.append(reinterpret_cast<const char*>(data), n * sizeof(T));
  }
  // Starts a section; end_section() writes its length in front.
  std::size_t begin_section() {
    std::size_t at = out_.size();
    put<std::uint32_t>(0);
    return at;
  }
  void end_section(std::size_t at) {
    auto len = static_cast<std::uint32_t>(out_.size() - at - sizeof(std::uint32_t));
    std::memcpy(out_.data() + at, &len, sizeof(len));
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class state_reader {
 public:
  explicit state_reader(std::string_view in) : in_(in) {}
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool get(T& v) {
    if (!ok_ || in_.size() - pos_ < sizeof(T)) return ok_ = false;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // Reads up to `cap` elements into `data`; more than cap is corruption.
  template <typename T>
  bool get_array(T* data, std::size_t cap, std::size_t& n) {
    std::uint32_t len = 0;
    if (!get(len) || len > cap || (in_.size() - pos_) / sizeof(T) < len) return ok_ = false;
    std::memcpy(data, in_.data() + pos_, len * sizeof(T));
    pos_ += len * sizeof(T);
    n = len;
    return true;
  }
  // A section as its own reader (and skips it here).
  state_reader section() {
    std::uint32_t len = 0;
    if (!get(len) || in_.size() - pos_ < len) {
      ok_ = false;
      return state_reader({});
    }
    state_reader r(in_.substr(pos_, len));
    pos_ += len;
    return r;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace dg::detectors
