#include "enforcement/answer_texts.h"

#include <cstdint>

#include "common/json_sax.h"

namespace dg::enforcement {
namespace {

enum class ctx : std::uint8_t { top, choices, choice, message, parts, part, output, item, skip };

// Keys read, one bit each, to refuse duplicates (a tree keeps one of them).
enum key_bit : std::uint8_t { k_none = 0, k_choices = 1, k_output = 2, k_message = 4, k_text = 8, k_content = 16, k_type = 32 };

class finder {
 public:
  finder(const json::sax_reader& r, std::vector<answer_text>& out) : reader_(r), out_(out) {}

  bool root_object = false;

  bool start_object() { return open(true); }
  bool start_array() { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string_view k) {
    frame& f = stack_.back();
    std::uint8_t bit = k_none;
    switch (f.c) {
      case ctx::top: bit = k == "choices" ? k_choices : k == "output" ? k_output : k_none; break;
      case ctx::choice: bit = k == "message" ? k_message : k == "text" ? k_text : k_none; break;
      case ctx::message:
      case ctx::item: bit = k == "content" ? k_content : k_none; break;
      case ctx::part: bit = k == "text" ? k_text : k == "type" ? k_type : k_none; break;
      default: break;
    }
    if (bit != k_none) {
      if (f.seen & bit) return false;  // a duplicate: the tree path decides
      f.seen |= bit;
    }
    f.key = bit;
    return true;
  }
  bool string(std::string_view s) {
    if (stack_.empty()) return true;
    frame& f = stack_.back();
    const bool answer = (f.c == ctx::choice && f.key == k_text) || ((f.c == ctx::message || f.c == ctx::item) && f.key == k_content);
    if (answer) {
      out_.push_back({reader_.value_offset(), reader_.offset(), std::string(s)});
    } else if (f.c == ctx::part && f.key == k_text) {
      part_text_ = {reader_.value_offset(), reader_.offset(), std::string(s)};
      part_has_text_ = true;
    } else if (f.c == ctx::part && f.key == k_type) {
      part_type_ok_ = s == "text" || s == "output_text";
    }
    return true;
  }
  bool number(double, bool) { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool null() { return scalar(); }

 private:
  struct frame {
    ctx c;
    std::uint8_t seen = 0;
    std::uint8_t key = k_none;
  };
  // A non-string scalar as a part's "type" makes the part not text.
  bool scalar() {
    if (!stack_.empty() && stack_.back().c == ctx::part && stack_.back().key == k_type) part_type_ok_ = false;
    return true;
  }
  bool open(bool object) {
    if (stack_.empty()) {
      root_object = object;
      stack_.push_back({object ? ctx::top : ctx::skip});
      return true;
    }
    const frame& f = stack_.back();
    ctx next = ctx::skip;
    switch (f.c) {
      case ctx::top:
        if (!object && f.key == k_choices) next = ctx::choices;
        else if (!object && f.key == k_output) next = ctx::output;
        break;
      case ctx::choices: next = object ? ctx::choice : ctx::skip; break;
      case ctx::output: next = object ? ctx::item : ctx::skip; break;
      case ctx::choice: next = object && f.key == k_message ? ctx::message : ctx::skip; break;
      case ctx::message:
      case ctx::item: next = !object && f.key == k_content ? ctx::parts : ctx::skip; break;
      case ctx::parts:
        if (object) {
          next = ctx::part;
          part_has_text_ = false;
          part_type_ok_ = true;  // no "type": text
        }
        break;
      case ctx::part:
        if (f.key == k_type) part_type_ok_ = false;
        break;
      default: break;
    }
    stack_.push_back({next});
    return true;
  }
  bool close() {
    const frame f = stack_.back();
    stack_.pop_back();
    if (f.c == ctx::part && part_has_text_ && part_type_ok_) out_.push_back(std::move(part_text_));
    return true;
  }

  const json::sax_reader& reader_;
  std::vector<answer_text>& out_;
  std::vector<frame> stack_;
  answer_text part_text_;
  bool part_has_text_ = false, part_type_ok_ = true;
};

}  // namespace

bool find_answer_texts(std::string_view body, int max_depth, std::vector<answer_text>& out) {
  out.clear();
  thread_local json::sax_reader reader;
  finder f(reader, out);
  if (reader.parse(body, f, max_depth) != json::sax_result::ok || !f.root_object) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace dg::enforcement
