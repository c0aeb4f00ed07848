#include "enforcement/watermark_rewriter.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <cstdint>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "enforcement/answer_texts.h"
#include "enforcement/request_shaper.h"

namespace dg::enforcement {

using json = nlohmann::ordered_json;

namespace {
constexpr int max_depth = 128;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// An integer field, or `fallback` when it is absent, not an integer or out of
// int's range. (json::value() throws type_error when the field has another
// type, and the upstream's JSON is not ours to trust: "index": null happens.)
int int_field(const json& j, const char* key, int fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  const auto v = it->get<std::int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return fallback;
  return static_cast<int>(v);
}

bool string_field_is(const json& j, const char* key, std::string_view want) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == want;
}

bool parse(std::string_view text, json& out) {
  if (json_depth(text, max_depth) > max_depth) return false;
  out = json::parse(text, nullptr, false);
  return !out.is_discarded() && out.is_object();
}
// ---- the fast path of chat.completion.chunk events ------------------------
//
// Most events of a stream are one chat.completion.chunk carrying a few
// characters of one choice's delta.content. Parsing and re-serialising the
// whole event costs several microseconds; the scanner below walks the event
// once, checks it is plain JSON of exactly that shape (one choice, an integer
// index or none, delta.content a string, finish_reason null or absent, no
// duplicate keys, integers only, valid escapes and UTF-8, no Responses "type"),
// and gives the span of the content string, which is then rewritten in place.
// Anything else returns false and takes the full parse.
void unescape(std::string_view body, std::string& out);

class chunk_scanner {
 public:
  explicit chunk_scanner(std::string_view s) : s_(s) {}

  struct found {
    std::size_t begin = 0, end = 0;  // the content string's body, between its quotes
    int index = 0;
  };

  bool scan(found& f) {
    skip_ws();
    if (!top_object(f)) return false;
    skip_ws();
    return i_ == s_.size() && have_content_;
  }

  // A chat.completion or completion body of the usual shape: its answers, choices[].message.content
  // and choices[].text strings, as find_answer_texts() finds them. False for anything else (text
  // parts, a Responses "output", a duplicate key among those read, a fraction, an exponent, a
  // byte-order mark, nesting deeper than find_answer_texts() allows...): that one reads it.
  bool scan_completion(std::vector<answer_text>& out) {
    skip_ws();
    bool seen_choices = false;
    // Depths as json_sax counts containers (the top object is one), one more at most.
    if (!object([&](std::string_view key) {
          if (key == "output") return false;
          if (key != "choices") return value(2);
          if (seen_choices) return false;
          seen_choices = true;
          skip_ws();
          if (!peek('[')) return value(2);
          ++i_;
          skip_ws();
          if (peek(']')) return ++i_, true;
          do {
            if (!completion_choice(out)) return false;
            skip_ws();
          } while (peek(',') && ++i_);
          return expect(']');
        }))
      return false;
    skip_ws();
    return i_ == s_.size();
  }

 private:
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void skip_ws() {
    // Most tokens follow the one before without a blank: one comparison for them.
    if (i_ < s_.size() && static_cast<unsigned char>(s_[i_]) > ' ') return;
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool expect(char c) {
    skip_ws();
    if (!peek(c)) return false;
    ++i_;
    return true;
  }

  // A string; on success [b, e) is its body. Escapes and UTF-8 are checked as
  // nlohmann's parser checks them (a key with an escape is refused: keys are
  // compared raw).
  bool string(std::size_t& b, std::size_t& e) {
    skip_ws();
    if (!peek('"')) return false;
    b = ++i_;
    while (i_ < s_.size()) {
#if defined(__SSE2__)
      // Sixteen plain ASCII bytes at a time, as json_sax reads them, then eight.
      while (s_.size() - i_ >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s_.data() + i_));
        const __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
            _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        if (mask != 0) {
          i_ += static_cast<std::size_t>(std::countr_zero(mask));
          break;
        }
        i_ += 16;
      }
#endif
      // Printable ASCII other than " and \ (nearly all of an event) eight bytes at a time
      // (the lowest flagged byte is the first that is not: a borrow only runs upwards),
      // then byte by byte, before the checks below.
      if constexpr (std::endian::native == std::endian::little) {
        while (s_.size() - i_ >= 8) {
          std::uint64_t x;
          std::memcpy(&x, s_.data() + i_, 8);
          constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
          const std::uint64_t quote = x ^ (ones * '"'), slash = x ^ (ones * '\\');
          const std::uint64_t special =
              (((quote - ones) & ~quote) | ((slash - ones) & ~slash) | (x - ones * 0x20) | x) & highs;
          if (special) {
            i_ += static_cast<std::size_t>(std::countr_zero(special) >> 3);
            break;
          }
          i_ += 8;
        }
      }
      while (i_ < s_.size() && plain[static_cast<unsigned char>(s_[i_])]) ++i_;
      if (i_ == s_.size()) break;
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        e = i_++;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return false;
        const char x = s_[i_ + 1];
        if (x == 'u') {
          unsigned cp = 0;
          if (!hex4(i_ + 2, cp)) return false;
          i_ += 6;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (i_ + 1 >= s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u' || !hex4(i_ + 2, lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
              return false;
            i_ += 6;
          }
          continue;
        }
        if (x != '"' && x != '\\' && x != '/' && x != 'b' && x != 'f' && x != 'n' && x != 'r' && x != 't')
          return false;
        i_ += 2;
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      if (!utf8(c)) return false;
    }
    return false;
  }
  static constexpr std::array<bool, 256> plain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return t;
  }();
  bool hex4(std::size_t at, unsigned& cp) const {
    if (at + 4 > s_.size()) return false;
    cp = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const char h = s_[k];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
      else return false;
    }
    return true;
  }
  // One UTF-8 sequence starting with lead byte c at i_ (RFC 3629: no
  // overlongs, no surrogates, at most U+10FFFF).
  bool utf8(unsigned char c) {
    auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
      if (i_ + k >= s_.size()) return false;
      const auto b = static_cast<unsigned char>(s_[i_ + k]);
      return b >= lo && b <= hi;
    };
    std::size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF) n = cont(1) ? 2 : 0;
    else if (c == 0xE0) n = cont(1, 0xA0, 0xBF) && cont(2) ? 3 : 0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = cont(1) && cont(2) ? 3 : 0;
    else if (c == 0xED) n = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    else if (c == 0xF0) n = cont(1, 0x90, 0xBF) && cont(2) && cont(3) ? 4 : 0;
    else if (c >= 0xF1 && c <= 0xF3) n = cont(1) && cont(2) && cont(3) ? 4 : 0;
    else if (c == 0xF4) n = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    if (n == 0) return false;
    i_ += n;
    return true;
  }
  // An integer (no fraction or exponent: those take the full parse), as int.
  bool integer(int* out) {
    skip_ws();
    const std::size_t b = i_;
    if (peek('-')) ++i_;
    const std::size_t digits = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    const std::size_t n = i_ - digits;
    if (n == 0 || n > 18 || (n > 1 && s_[digits] == '0')) return false;
    if (peek('.') || peek('e') || peek('E')) return false;
    if (out) {
      long long v = 0;
      for (std::size_t k = digits; k < i_; ++k) v = v * 10 + (s_[k] - '0');
      if (s_[b] == '-') v = -v;
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return false;
      *out = static_cast<int>(v);
    }
    return true;
  }
  bool literal(std::string_view word) {
    skip_ws();
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  // Any value, checked and skipped.
  bool value(int depth) {
    if (depth > max_depth) return false;
    skip_ws();
    if (i_ >= s_.size()) return false;
    std::size_t b, e;
    switch (s_[i_]) {
      case '"': return string(b, e);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      case '{': {
        ++i_;
        skip_ws();
        if (peek('}')) return ++i_, true;
        do {
          if (!string(b, e) || !expect(':') || !value(depth + 1)) return false;
          skip_ws();
        } while (peek(',') && ++i_);
        return expect('}');
      }
      case '[': {
        ++i_;
        skip_ws();
        if (peek(']')) return ++i_, true;
        do {
          if (!value(depth + 1)) return false;
          skip_ws();
        } while (peek(',') && ++i_);
        return expect(']');
      }
      default: return integer(nullptr);
    }
  }
  // Calls on_key(key) for every member of an object, which must consume its value.
  template <class F>
  bool object(F&& on_key) {
    if (!expect('{')) return false;
    skip_ws();
    if (peek('}')) return ++i_, true;
    do {
      std::size_t b, e;
      if (!string(b, e) || !expect(':')) return false;
      const std::string_view key = s_.substr(b, e - b);
      if (key.find('\\') != std::string_view::npos || !on_key(key)) return false;
      skip_ws();
    } while (peek(',') && ++i_);
    return expect('}');
  }
  bool top_object(found& f) {
    bool seen_choices = false;
    return object([&](std::string_view key) {
      if (key == "type") return false;  // a Responses API event
      if (key != "choices") return value(1);
      if (seen_choices) return false;
      seen_choices = true;
      if (!expect('[')) return false;
      if (!choice(f)) return false;
      return expect(']');  // exactly one choice
    });
  }
  bool choice(found& f) {
    bool seen_index = false, seen_delta = false, seen_finish = false;
    return object([&](std::string_view key) {
      if (key == "index") {
        if (seen_index) return false;
        seen_index = true;
        return integer(&f.index);
      }
      if (key == "finish_reason") {
        if (seen_finish) return false;
        seen_finish = true;
        return literal("null");  // a finishing chunk releases the tail: full parse
      }
      if (key == "text") return false;
      if (key != "delta") return value(3);
      if (seen_delta) return false;
      seen_delta = true;
      return object([&](std::string_view k) {
        if (k != "content") return value(4);
        if (have_content_) return false;
        have_content_ = true;
        return string(f.begin, f.end);
      });
    });
  }

  bool completion_choice(std::vector<answer_text>& out) {
    skip_ws();
    if (!peek('{')) return value(3);
    bool seen_message = false, seen_text = false;
    return object([&](std::string_view key) {
      if (key == "text") {
        if (seen_text) return false;
        seen_text = true;
        skip_ws();
        return peek('"') ? answer(out) : value(4);
      }
      if (key != "message") return value(4);
      if (seen_message) return false;
      seen_message = true;
      skip_ws();
      if (!peek('{')) return value(4);
      bool seen_content = false;
      return object([&](std::string_view k) {
        if (k != "content") return value(5);
        if (seen_content) return false;
        seen_content = true;
        skip_ws();
        if (peek('[')) return false;  // text parts
        return peek('"') ? answer(out) : value(5);
      });
    });
  }
  // The string at i_ as an answer: its token's span (quotes included) and its text.
  bool answer(std::vector<answer_text>& out) {
    std::size_t b = 0, e = 0;
    if (!string(b, e)) return false;
    answer_text& t = out.emplace_back();
    t.begin = b - 1;
    t.end = e + 1;
    const std::string_view body = s_.substr(b, e - b);
    if (body.find('\\') == std::string_view::npos) t.text.assign(body);
    else unescape(body, t.text);
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  bool have_content_ = false;
};

// The text of a JSON string body the scanner accepted.
void unescape(std::string_view body, std::string& out) {
  out.clear();
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    // The plain run up to the next escape, whole (a byte at a time was most of the cost of
    // reading an answer with paragraphs: callgrind).
    const std::size_t esc = std::min(body.find('\\', i), body.size());
    out.append(body.data() + i, esc - i);
    i = esc;
    if (i == body.size()) break;
    const char x = body[++i];
    switch (x) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        auto hex = [&](std::size_t at) {
          unsigned v = 0;
          for (std::size_t k = at; k < at + 4; ++k) {
            const char h = body[k];
            v = v * 16 + static_cast<unsigned>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
          }
          return v;
        };
        unsigned cp = hex(i + 1);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (hex(i + 3) - 0xDC00);
          i += 6;
        }
        append_utf8(cp, out);
        break;
      }
      default: out.push_back(x); break;  // " \ /
    }
  }
}

// Appends `text` as the body of a JSON string, escaped as nlohmann's dump escapes.
void escape_into(std::string_view text, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  // Runs that need no escape (nearly all of a text) are copied whole: a push_back
  // per byte was a fifth of the cost of rewriting a JSON body (callgrind).
  out.reserve(out.size() + text.size() + 8);
  std::size_t run = 0;  // text[run, i) is copied as it is
  for (std::size_t i = 0; i < text.size(); ++i) {
#if defined(__SSE2__)
    // Sixteen bytes at a time (a quote, a backslash or a byte whose top three bits are clear:
    // a control byte), then eight, as below.
    while (text.size() - i >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
      const __m128i special = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
          _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xE0))), _mm_setzero_si128()));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
      if (mask != 0) {
        i += static_cast<std::size_t>(std::countr_zero(mask));
        break;
      }
      i += 16;
    }
    if (i >= text.size()) break;
#endif
    // Eight bytes at a time up to the next one to escape (a quote, a backslash or a control
    // byte; not a byte >= 0x80): the lowest flagged byte is the first such, as a borrow only
    // runs upwards from one. A byte at a time cost a twelfth of rewriting a JSON body.
    if constexpr (std::endian::native == std::endian::little) {
      std::uint64_t special = 0;
      while (i + 8 <= text.size()) {
        std::uint64_t x;
        std::memcpy(&x, text.data() + i, 8);
        constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        const std::uint64_t quote = x ^ (ones * '"'), slash = x ^ (ones * '\\');
        special = (((quote - ones) & ~quote) | ((slash - ones) & ~slash) | (x - ones * 0x20)) & ~x & highs;
        if (special) break;
        i += 8;
      }
      if (special) i += static_cast<std::size_t>(std::countr_zero(special) >> 3);
      if (i >= text.size()) break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
    }
  }
  out.append(text.data() + run, text.size() - run);
}

}  // namespace

bool find_completion_texts(std::string_view body, std::vector<answer_text>& out) {
  out.clear();
  if (chunk_scanner(body).scan_completion(out)) return true;
  out.clear();
  return false;
}

bool watermark_rewriter::rewrite_chunk_in_place(std::string_view data, std::string& result) {
  chunk_scanner::found f;
  if (!chunk_scanner(data).scan(f)) return false;
  const std::string_view body = data.substr(f.begin, f.end - f.begin);
  std::string text;
  if (body.find('\\') == std::string_view::npos) text.assign(body);
  else unescape(body, text);
  // The stream's one choice, as a rule: its marker without building its slot's name.
  if (!last_chunk_marker_ || f.index != last_chunk_index_) {
    last_chunk_marker_ = &marker_for("c" + std::to_string(f.index));
    last_chunk_index_ = f.index;
  }
  text_marker& m = *last_chunk_marker_;
  std::string out = m.feed(text);
  template_.assign(data);
  if (out == text) {
    result.assign(data);
    return true;
  }
  result.clear();
  result.reserve(data.size() + out.size() - body.size() + 8);
  result.append(data.substr(0, f.begin));
  escape_into(out, result);
  result.append(data.substr(f.end));
  return true;
}

void watermark_rewriter::add_counts(const text_marker& m) {
  done_.words += m.scanner().words();
  done_.eligible += m.scanner().eligible();
  done_.changed += m.scanner().changed();
}

response_rewriter::stats watermark_rewriter::counts() const {
  stats s = done_;
  for (const auto& [slot, st] : streams_) {
    s.words += st.marker->scanner().words();
    s.eligible += st.marker->scanner().eligible();
    s.changed += st.marker->scanner().changed();
  }
  return s;
}

std::string watermark_rewriter::rewrite_json_body(std::string_view body) {
  // The common case: each answer string rewritten where it stands, the rest copied as it came.
  std::vector<answer_text> texts;
  if (find_completion_texts(body, texts) || find_answer_texts(body, max_depth, texts)) {
    std::string result;
    std::size_t copied = 0;
    for (const auto& t : texts) {
      text_marker m(*table_, key_);
      std::string out = m.mark(t.text);
      add_counts(m);
      if (m.scanner().changed() == 0) continue;
      if (result.empty()) result.reserve(body.size() + 64);
      result.append(body.substr(copied, t.begin - copied));
      result.push_back('"');
      escape_into(out, result);
      result.push_back('"');
      copied = t.end;
    }
    if (copied == 0) return std::string(body);
    result.append(body.substr(copied));
    return result;
  }
  json j;
  if (!parse(body, j)) return std::string(body);
  bool changed = false;
  auto mark_string = [&](json& field) {
    if (!field.is_string()) return;
    text_marker m(*table_, key_);
    std::string out = m.mark(field.get_ref<const std::string&>());
    add_counts(m);
    if (m.scanner().changed() > 0) {
      field = std::move(out);
      changed = true;
    }
  };
  auto mark_content = [&](json& content) {
    if (content.is_string()) {
      mark_string(content);
    } else if (content.is_array()) {
      for (auto& part : content)
        if (part.is_object() && part.contains("text") &&
            (!part.contains("type") || part["type"] == "text" || part["type"] == "output_text"))
          mark_string(part["text"]);
    }
  };
  if (auto ch = j.find("choices"); ch != j.end() && ch->is_array()) {
    for (auto& c : *ch) {
      if (!c.is_object()) continue;
      if (auto msg = c.find("message"); msg != c.end() && msg->is_object()) {
        if (auto content = msg->find("content"); content != msg->end()) mark_content(*content);
      }
      if (auto text = c.find("text"); text != c.end()) mark_string(*text);
    }
  }
  if (auto out = j.find("output"); out != j.end() && out->is_array()) {
    for (auto& item : *out) {
      if (!item.is_object()) continue;
      if (auto content = item.find("content"); content != item.end()) mark_content(*content);
    }
  }
  return changed ? dump(j) : std::string(body);
}

text_marker& watermark_rewriter::marker_for(const std::string& slot) {
  auto& st = streams_[slot];
  if (!st.marker) st.marker = std::make_unique<text_marker>(*table_, key_);
  return *st.marker;
}

std::string watermark_rewriter::rewrite_sse_data(std::string_view data) {
  before_.clear();
  after_rewrite_ = true;
  if (fast_path_) {
    std::string result;
    if (rewrite_chunk_in_place(data, result)) return result;
  }
  json j;
  if (!parse(data, j)) {
    // data: [DONE] (or anything else): release what is held back first.
    before_ = flush_all();
    return std::string(data);
  }
  bool changed = false;
  // Responses API events.
  if (auto type = j.find("type"); type != j.end() && type->is_string()) {
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "response.output_text.delta" || t == "response.output_text.done") {
      const std::string slot = "r" + std::to_string(int_field(j, "output_index", 0)) + "." +
                               std::to_string(int_field(j, "content_index", 0));
      auto& st = streams_[slot];
      if (!st.marker) st.marker = std::make_unique<text_marker>(*table_, key_);
      if (t == "response.output_text.delta") {
        auto d = j.find("delta");
        if (d == j.end() || !d->is_string()) return std::string(data);
        std::string out = st.marker->feed(d->get_ref<const std::string&>());
        st.emitted += out;
        *d = std::move(out);
        return dump(j);
      }
      // .done: the held-back tail goes out as one more delta before it, and the
      // full text becomes what the client was actually sent.
      std::string rest = st.marker->finish();
      if (!rest.empty()) {
        json delta = j;
        delta["type"] = "response.output_text.delta";
        delta.erase("text");
        delta["delta"] = rest;
        before_ = "event: response.output_text.delta\ndata: " + dump(delta) + "\n\n";
        st.emitted += rest;
      }
      if (j.contains("text")) j["text"] = st.emitted;
      return dump(j);
    }
    return std::string(data);
  }
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array()) return std::string(data);
  for (auto& c : *ch) {
    if (!c.is_object()) continue;
    const std::string slot = "c" + std::to_string(int_field(c, "index", 0));
    const bool finished = c.contains("finish_reason") && !c["finish_reason"].is_null();
    json* field = nullptr;
    if (auto d = c.find("delta"); d != c.end() && d->is_object()) {
      if (auto content = d->find("content"); content != d->end() && content->is_string())
        field = &*content;
      else if (finished && streams_.count(slot))
        field = &((*d)["content"] = "");
    } else if (auto text = c.find("text"); text != c.end() && text->is_string()) {
      field = &*text;
    }
    if (!field) continue;
    text_marker& m = marker_for(slot);
    std::string out = m.feed(field->get_ref<const std::string&>());
    if (finished) out += m.finish();
    if (out != field->get_ref<const std::string&>()) changed = true;
    *field = std::move(out);
  }
  template_.assign(data);
  return changed ? dump(j) : std::string(data);
}

std::string watermark_rewriter::flush_all() {
  std::string events;
  json tmpl;
  const bool have_template = parse(template_, tmpl);
  for (auto& [slot, st] : streams_) {
    if (!st.marker) continue;
    std::string rest = st.marker->finish();
    if (rest.empty() || slot[0] != 'c' || !have_template) continue;
    // One chunk shaped like the last one, carrying only this choice's rest.
    json chunk = tmpl;
    json choice;
    choice["index"] = std::stoi(slot.substr(1));
    const bool is_chat = string_field_is(tmpl, "object", "chat.completion.chunk") ||
                         (tmpl.contains("choices") && tmpl["choices"].is_array() &&
                          !tmpl["choices"].empty() && tmpl["choices"][0].contains("delta"));
    if (is_chat) {
      choice["delta"] = json{{"content", rest}};
    } else {
      choice["text"] = rest;
    }
    choice["finish_reason"] = nullptr;
    chunk["choices"] = json::array({choice});
    chunk.erase("usage");
    events += "data: " + dump(chunk) + "\n\n";
  }
  return events;
}

std::string watermark_rewriter::flush_sse() {
  if (!after_rewrite_) return flush_all();  // the end of the stream
  after_rewrite_ = false;
  std::string out = std::move(before_);
  before_.clear();
  return out;
}

}  // namespace dg::enforcement
