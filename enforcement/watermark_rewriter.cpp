#include "enforcement/watermark_rewriter.h"

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

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
}  // namespace

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
  template_ = std::string(data);
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
