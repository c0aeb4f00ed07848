// json_sax: a strict one-pass JSON reader that hands each token to a handler,
// for the hot paths that read a few fields of an untrusted document (the
// analyzer reads every request body): no tree, no allocation but one reused
// buffer for strings with escapes. It accepts what nlohmann::json::parse
// accepts (RFC 8259, a leading UTF-8 byte-order mark, well-formed UTF-8 in
// strings, no raw control characters, no lone surrogates, no non-finite
// numbers, nothing after the value but white space, or a NUL byte and whatever
// follows it, which nlohmann takes for the end); nesting deeper than max_depth
// stops it.
//
// The handler has these members, each returning false to stop the parse:
//   bool start_object(); bool end_object(); bool start_array(); bool end_array();
//   bool key(std::string_view); bool string(std::string_view);
//   bool number(double value, bool integer); bool boolean(bool); bool null();
// A key or string view is valid only during the call (it may point into the
// reader's buffer). `integer` is nlohmann's is_number_integer: no fraction or
// exponent, and within the range of a 64-bit integer.
// Thread safety: a sax_reader keeps its buffer; one per thread.
#pragma once

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/utf8.h"

namespace dg::json {

enum class sax_result { ok, syntax, depth, stopped };

class sax_reader {
 public:
  template <class Handler>
  sax_result parse(std::string_view text, Handler& h, int max_depth);
  // During a handler call: the offset in the text just past the token being handed over (past
  // the '{' of start_object, past the '}' of end_object), so a handler can cut a value's text out.
  // After a failed parse: where it failed.
  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }
  // During a handler's string() call: the offset of the string's opening quote.
  std::size_t value_offset() const { return static_cast<std::size_t>(value_ - begin_); }

 private:
  // Reads the string whose opening quote is at p_; on success `out` is its decoded text.
  bool read_string(std::string_view& out);
  bool read_number(double& value, bool& integer);
  bool read_literal(const char* word, std::size_t n);
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  // Length of the well-formed UTF-8 sequence at p (p < end_, *p >= 0x80), 0 if malformed.
  std::size_t utf8_length(const unsigned char* p) const;

  const unsigned char* begin_ = nullptr;
  const unsigned char* value_ = nullptr;  // where the value being read began
  const unsigned char* p_ = nullptr;
  const unsigned char* end_ = nullptr;
  std::string buffer_;
  std::vector<bool> in_object_;  // the open containers, innermost last
};

template <class Handler>
sax_result sax_reader::parse(std::string_view text, Handler& h, int max_depth) {
  begin_ = p_ = reinterpret_cast<const unsigned char*>(text.data());
  end_ = p_ + text.size();
  in_object_.clear();
  if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;
  std::string_view s;
  for (;;) {
    // A value is expected.
    skip_space();
    if (p_ == end_) return sax_result::syntax;
    bool opened = false;
    switch (*p_) {
      case '{':
      case '[': {
        const bool object = *p_ == '{';
        if (static_cast<int>(in_object_.size()) >= max_depth) return sax_result::depth;
        ++p_;
        if (!(object ? h.start_object() : h.start_array())) return sax_result::stopped;
        in_object_.push_back(object);
        skip_space();
        if (p_ < end_ && *p_ == (object ? '}' : ']')) {
          ++p_;
          in_object_.pop_back();
          if (!(object ? h.end_object() : h.end_array())) return sax_result::stopped;
          break;
        }
        if (object) {
          if (p_ == end_ || *p_ != '"' || !read_string(s)) return sax_result::syntax;
          if (!h.key(s)) return sax_result::stopped;
          skip_space();
          if (p_ == end_ || *p_ != ':') return sax_result::syntax;
          ++p_;
        }
        opened = true;
        break;
      }
      case '"':
        value_ = p_;
        if (!read_string(s)) return sax_result::syntax;
        if (!h.string(s)) return sax_result::stopped;
        break;
      case 't':
        if (!read_literal("true", 4)) return sax_result::syntax;
        if (!h.boolean(true)) return sax_result::stopped;
        break;
      case 'f':
        if (!read_literal("false", 5)) return sax_result::syntax;
        if (!h.boolean(false)) return sax_result::stopped;
        break;
      case 'n':
        if (!read_literal("null", 4)) return sax_result::syntax;
        if (!h.null()) return sax_result::stopped;
        break;
      default: {
        double v = 0;
        bool integer = false;
        if (!read_number(v, integer)) return sax_result::syntax;
        if (!h.number(v, integer)) return sax_result::stopped;
      }
    }
    if (opened) continue;  // the container's first value
    // After a value: the next member or element, or the ends of containers.
    for (;;) {
      skip_space();
      // Like nlohmann's lexer, a NUL byte where a token would start ends the text.
      if (in_object_.empty()) return p_ == end_ || *p_ == '\0' ? sax_result::ok : sax_result::syntax;
      if (p_ == end_) return sax_result::syntax;
      const bool object = in_object_.back();
      if (*p_ == ',') {
        ++p_;
        if (object) {
          skip_space();
          if (p_ == end_ || *p_ != '"' || !read_string(s)) return sax_result::syntax;
          if (!h.key(s)) return sax_result::stopped;
          skip_space();
          if (p_ == end_ || *p_ != ':') return sax_result::syntax;
          ++p_;
        }
        break;  // the next value
      }
      if (*p_ != (object ? '}' : ']')) return sax_result::syntax;
      ++p_;
      in_object_.pop_back();
      if (!(object ? h.end_object() : h.end_array())) return sax_result::stopped;
    }
  }
}

inline bool sax_reader::read_literal(const char* word, std::size_t n) {
  if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
  p_ += n;
  return true;
}

inline std::size_t sax_reader::utf8_length(const unsigned char* p) const {
  const unsigned char c = *p;
  const std::size_t left = static_cast<std::size_t>(end_ - p);
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < left && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

inline bool sax_reader::read_string(std::string_view& out) {
  const unsigned char* start = ++p_;  // past the opening quote
  const unsigned char* run = start;   // plain bytes not yet copied (once there are escapes)
  bool escaped = false;
  auto hex4 = [&](std::uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char d = *p_++;
      v <<= 4;
      if (d >= '0' && d <= '9') v |= d - '0';
      else if (d >= 'a' && d <= 'f') v |= d - 'a' + 10;
      else if (d >= 'A' && d <= 'F') v |= d - 'A' + 10;
      else return false;
    }
    return true;
  };
  for (;;) {
#if defined(__SSE2__)
    // Sixteen plain ASCII bytes at a time (no quote, backslash, control or non-ASCII byte: a byte
    // below 0x20 read as signed is a control byte or one >= 0x80), then eight, as below.
    while (end_ - p_ >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i special = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
          _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
      if (mask != 0) {
        p_ += std::countr_zero(mask);
        break;
      }
      p_ += 16;
    }
#endif
    // Eight plain ASCII bytes at a time (no quote, backslash, control or non-ASCII byte).
    while (end_ - p_ >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p_, 8);
      constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
      const std::uint64_t quote = x ^ (ones * '"'), slash = x ^ (ones * '\\');
      const std::uint64_t special = (((quote - ones) & ~quote) | ((slash - ones) & ~slash) | (x - ones * 0x20) | x) & highs;
      if (special) {
        // The lowest flagged byte is the first special one (a borrow only runs upwards from a
        // special byte): go straight to it, not byte by byte through the plain ones before it
        // (that was half of the cost of reading an answer: callgrind).
        if constexpr (std::endian::native == std::endian::little) p_ += std::countr_zero(special) >> 3;
        break;
      }
      p_ += 8;
    }
    if (p_ == end_) return false;
    const unsigned char c = *p_;
    if (c == '"') break;
    if (c < 0x20) return false;
    if (c >= 0x80) {
      const std::size_t n = utf8_length(p_);
      if (n == 0) return false;
      p_ += n;
      continue;
    }
    if (c != '\\') {
      ++p_;
      continue;
    }
    // An escape: the plain run before it is copied, then the escape decoded.
    if (!escaped) buffer_.clear();
    escaped = true;
    buffer_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
    if (++p_ == end_) return false;
    const unsigned char e = *p_++;
    switch (e) {
      case '"': buffer_.push_back('"'); break;
      case '\\': buffer_.push_back('\\'); break;
      case '/': buffer_.push_back('/'); break;
      case 'b': buffer_.push_back('\b'); break;
      case 'f': buffer_.push_back('\f'); break;
      case 'n': buffer_.push_back('\n'); break;
      case 'r': buffer_.push_back('\r'); break;
      case 't': buffer_.push_back('\t'); break;
      case 'u': {
        std::uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          std::uint32_t low = 0;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(cp, buffer_);
        break;
      }
      default: return false;
    }
    run = p_;
  }
  if (!escaped) {
    out = std::string_view(reinterpret_cast<const char*>(start), static_cast<std::size_t>(p_ - start));
  } else {
    buffer_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
    out = buffer_;
  }
  ++p_;
  return true;
}

inline bool sax_reader::read_number(double& value, bool& integer) {
  const unsigned char* start = p_;
  auto digits = [&] {
    const unsigned char* from = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > from;
  };
  if (p_ < end_ && *p_ == '-') ++p_;
  if (p_ == end_) return false;
  if (*p_ == '0') {
    ++p_;
  } else if (!digits()) {
    return false;
  }
  integer = true;
  if (p_ < end_ && *p_ == '.') {
    ++p_;
    if (!digits()) return false;
    integer = false;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (!digits()) return false;
    integer = false;
  }
  const char* b = reinterpret_cast<const char*>(start);
  const char* e = reinterpret_cast<const char*>(p_);
  if (integer) {
    // Within a 64-bit integer, as nlohmann keeps it; beyond, a float.
    if (*b == '-') {
      std::int64_t i = 0;
      if (auto r = std::from_chars(b, e, i); r.ec == std::errc{} && r.ptr == e) {
        value = static_cast<double>(i);
        return true;
      }
    } else {
      std::uint64_t u = 0;
      if (auto r = std::from_chars(b, e, u); r.ec == std::errc{} && r.ptr == e) {
        value = static_cast<double>(u);
        return true;
      }
    }
    integer = false;
  }
  auto r = std::from_chars(b, e, value);
  if (r.ec == std::errc::result_out_of_range) {
    // Underflow is a finite value (nlohmann reads it with strtod); overflow is an error there.
    value = std::strtod(std::string(b, e).c_str(), nullptr);
    return std::isfinite(value);
  }
  return r.ec == std::errc{} && r.ptr == e && std::isfinite(value);
}

}  // namespace dg::json
