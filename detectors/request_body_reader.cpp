// parse_request_body: the analyzer reads every request body, so it reads it in
// one pass (common/json_sax.h) instead of building a JSON tree first, which
// cost more than all the features of the prompt. What it fills is exactly what
// parse_request_json fills from the tree (a unit test and the fuzz target hold
// the two to it): duplicate keys are decided by the last one, message keys may
// come in any order, and nothing reaches the event before the whole body has
// been read and found valid.
#include <array>
#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json_sax.h"
#include "detectors/request_parser.h"
#include "detectors/request_text.h"

namespace dg::detectors {
namespace {

// The top-level keys read; every other key is skipped.
enum top_key : std::uint8_t {
  k_other, k_model, k_temperature, k_top_p, k_n, k_max_tokens, k_max_completion_tokens,
  k_max_output_tokens, k_stream, k_logprobs, k_top_logprobs, k_logit_bias, k_tools, k_functions,
  k_messages, k_input, k_prompt, k_instructions, k_system, k_top_key_count
};

top_key top_key_of(std::string_view k) {
  static const std::unordered_map<std::string_view, top_key> keys = {
      {"model", k_model}, {"temperature", k_temperature}, {"top_p", k_top_p}, {"n", k_n},
      {"max_tokens", k_max_tokens}, {"max_completion_tokens", k_max_completion_tokens},
      {"max_output_tokens", k_max_output_tokens}, {"stream", k_stream}, {"logprobs", k_logprobs},
      {"top_logprobs", k_top_logprobs}, {"logit_bias", k_logit_bias}, {"tools", k_tools},
      {"functions", k_functions}, {"messages", k_messages}, {"input", k_input}, {"prompt", k_prompt},
      {"instructions", k_instructions}, {"system", k_system}};
  auto it = keys.find(k);
  return it == keys.end() ? k_other : it->second;
}

// What a value was, for the keys whose type decides what they mean.
enum class kind : std::uint8_t { absent, object, array, string, number, boolean, null };

struct scalar {
  kind k = kind::absent;
  double number = 0;
  bool integer = false;
  bool flag = false;
};

// Texts reused across bodies (their capacity stays), a count of those in use.
struct text_list {
  std::vector<std::string> items;
  std::size_t n = 0;
  void clear() { n = 0; }
  void push(std::string_view s) {
    if (n == items.size()) items.emplace_back();
    items[n++].assign(s);
  }
};

// The result of one list of role-tagged messages (chat "messages", responses "input" items).
struct message_list {
  std::vector<pb::MessageRole> roles;
  std::uint32_t count = 0;
  std::string system, last_user;
  void clear() {
    roles.clear();
    count = 0;
    system.clear();
    last_user.clear();
  }
};

// A list of prompts (completions "prompt", embeddings "input"): how many, and the last text.
struct prompt_list {
  std::uint32_t items = 0;
  bool has_text = false;
  std::string text;
};

enum class ctx : std::uint8_t {
  top,           // the body object
  skip,          // a value nobody reads, and everything in it
  message_list,  // owner 0: "messages", 1: "input" (mode not yet known when undecided)
  message,       // one message object
  content,       // an array of content parts; owner 0: the message's, 1: the top-level "system"
  part,          // one content part object
  logit_bias,    // the logit_bias object
  count_array,   // owner 0: "tools", 1: "functions"
  prompt_list,   // owner 0: "prompt", 1: "input"
};

struct frame {
  ctx c;
  std::uint8_t owner = 0;
  std::uint8_t key = 0;     // the pending key of an object frame (top_key, or message/part keys)
  bool undecided = false;  // an "input" array before its first element
};

enum message_key : std::uint8_t { m_other, m_role, m_content, m_type };

class body_handler {
 public:
  // Ready for the next body: state cleared, buffers kept (one handler per thread reads every
  // body, so nothing is allocated per body once the buffers have grown).
  void reset(const parse_limits& limits) {
    limits_ = limits;
    stack_.clear();
    root_object_ = false;
    top_.fill({});
    model_.clear();
    instructions_.clear();
    bias_.clear();
    tools_count_ = functions_count_ = 0;
    messages_.clear();
    input_messages_.clear();
    input_as_messages_ = false;
    prompt_.items = 0;
    prompt_.has_text = false;
    prompt_.text.clear();
    input_prompts_.items = 0;
    input_prompts_.has_text = false;
    input_prompts_.text.clear();
    system_pieces_.clear();
  }

  bool root_is_object() const { return root_object_; }

  bool start_object() { return open(kind::object); }
  bool start_array() { return open(kind::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string_view k) {
    frame& f = stack_.back();
    switch (f.c) {
      case ctx::top: f.key = top_key_of(k); break;
      case ctx::message: f.key = k == "role" ? m_role : k == "content" ? m_content : k == "type" ? m_type : m_other; break;
      case ctx::part: f.key = k == "text" ? 1 : 0; break;
      case ctx::logit_bias: bias_key_.assign(k); break;
      default: break;
    }
    return true;
  }
  bool string(std::string_view s) {
    scalar v;
    v.k = kind::string;
    value(v, s);
    return true;
  }
  bool number(double d, bool integer) {
    scalar v;
    v.k = kind::number;
    v.number = d;
    v.integer = integer;
    value(v, {});
    return true;
  }
  bool boolean(bool b) {
    scalar v;
    v.k = kind::boolean;
    v.flag = b;
    value(v, {});
    return true;
  }
  bool null() {
    scalar v;
    v.k = kind::null;
    value(v, {});
    return true;
  }

  // Fills the event as parse_request_json does from a tree.
  void commit(pb::QueryEvent& ev) const;

 private:
  // A value starts in the innermost frame: a scalar (s is its text when a string), or a
  // container (returns the frame to push for it).
  frame begin_value(const scalar& v, std::string_view s);
  void value(const scalar& v, std::string_view s) {
    if (stack_.empty()) return;  // a scalar body: refused by the caller
    (void)begin_value(v, s);
  }
  bool open(kind k) {
    scalar v;
    v.k = k;
    if (stack_.empty()) {
      root_object_ = k == kind::object;
      stack_.push_back({root_object_ ? ctx::top : ctx::skip});
      return true;
    }
    stack_.push_back(begin_value(v, {}));
    return true;
  }
  bool close();
  void end_message(message_list& list);
  message_list& list_of(std::uint8_t owner) { return owner == 0 ? messages_ : input_messages_; }
  text_list& pieces_of(std::uint8_t owner) { return owner == 0 ? message_pieces_ : system_pieces_; }

  parse_limits limits_;
  std::vector<frame> stack_;
  bool root_object_ = false;

  // Top level, each decided by the key's last occurrence.
  std::array<scalar, k_top_key_count> top_{};
  std::string model_;
  std::string instructions_;
  std::unordered_map<std::string, double> bias_;  // key -> |value|, or -1 when not a number
  std::string bias_key_;
  std::uint32_t tools_count_ = 0, functions_count_ = 0;
  message_list messages_, input_messages_;
  bool input_as_messages_ = false;
  prompt_list prompt_, input_prompts_;
  text_list system_pieces_;

  // The message being read.
  std::string role_, type_;
  bool content_present_ = false;
  text_list message_pieces_;
  // The content part being read.
  bool part_has_text_ = false;
  std::string part_text_;
};

frame body_handler::begin_value(const scalar& v, std::string_view s) {
  frame& f = stack_.back();
  const frame skip{ctx::skip};
  switch (f.c) {
    case ctx::skip:
      return skip;

    case ctx::top: {
      const auto k = static_cast<top_key>(f.key);
      top_[k] = v;
      switch (k) {
        case k_model:
          if (v.k == kind::string) model_.assign(s);
          break;
        case k_instructions:
          if (v.k == kind::string) instructions_.assign(s);
          break;
        case k_logit_bias:
          if (v.k == kind::object) {
            bias_.clear();
            return {ctx::logit_bias};
          }
          break;
        case k_tools:
        case k_functions:
          if (v.k == kind::array) {
            (k == k_tools ? tools_count_ : functions_count_) = 0;
            return {ctx::count_array, static_cast<std::uint8_t>(k == k_tools ? 0 : 1)};
          }
          break;
        case k_messages:
          if (v.k == kind::array) {
            messages_.clear();
            return {ctx::message_list, 0};
          }
          break;
        case k_input:
          input_messages_.clear();
          input_prompts_.items = 0;
          input_prompts_.has_text = false;
          input_prompts_.text.clear();
          input_as_messages_ = false;
          if (v.k == kind::string) {
            input_prompts_.items = 1;
            input_prompts_.has_text = true;
            input_prompts_.text.assign(s);
          } else if (v.k == kind::array) {
            frame in{ctx::message_list, 1};
            in.undecided = true;
            return in;
          }
          break;
        case k_prompt:
          prompt_.items = 0;
          prompt_.has_text = false;
          prompt_.text.clear();
          if (v.k == kind::string) {
            prompt_.items = 1;
            prompt_.has_text = true;
            prompt_.text.assign(s);
          } else if (v.k == kind::array) {
            return {ctx::prompt_list, 0};
          }
          break;
        case k_system:
          system_pieces_.clear();
          if (v.k == kind::string) system_pieces_.push(s);
          else if (v.k == kind::array) return {ctx::content, 1};
          break;
        default:
          break;
      }
      return skip;
    }

    case ctx::message_list: {
      if (f.undecided) {
        // An "input" array is a list of messages when its first item is an object.
        f.undecided = false;
        if (v.k == kind::object) {
          input_as_messages_ = true;
        } else {
          f.c = ctx::prompt_list;
          return begin_value(v, s);
        }
      }
      message_list& list = list_of(f.owner);
      if (list.count >= limits_.max_messages) return skip;
      ++list.count;
      if (v.k == kind::string) {  // responses API: a bare string item is user text
        list.roles.push_back(pb::ROLE_USER);
        list.last_user.clear();
        add_text(list.last_user, s, limits_.max_text_bytes);
      } else if (v.k == kind::object) {
        role_.clear();
        type_.clear();
        content_present_ = false;
        message_pieces_.clear();
        return {ctx::message, f.owner};
      }
      return skip;
    }

    case ctx::message:
      switch (f.key) {
        case m_role:
          role_.clear();
          if (v.k == kind::string) role_.assign(s);
          break;
        case m_type:
          type_.clear();
          if (v.k == kind::string) type_.assign(s);
          break;
        case m_content:
          content_present_ = true;
          message_pieces_.clear();
          if (v.k == kind::string) message_pieces_.push(s);
          else if (v.k == kind::array) return {ctx::content, 0};
          break;
        default:
          break;
      }
      return skip;

    case ctx::content:
      if (v.k == kind::string) {
        pieces_of(f.owner).push(s);
      } else if (v.k == kind::object) {
        part_has_text_ = false;
        return {ctx::part, f.owner};
      }
      return skip;

    case ctx::part:
      if (f.key == 1) {
        part_has_text_ = v.k == kind::string;
        if (part_has_text_) part_text_.assign(s);
      }
      return skip;

    case ctx::logit_bias:
      bias_[bias_key_] = v.k == kind::number ? std::fabs(v.number) : -1.0;
      return skip;

    case ctx::count_array:
      ++(f.owner == 0 ? tools_count_ : functions_count_);
      return skip;

    case ctx::prompt_list: {
      prompt_list& p = f.owner == 0 ? prompt_ : input_prompts_;
      if (p.items < limits_.max_messages) ++p.items;
      if (v.k == kind::string) {
        p.has_text = true;
        p.text.assign(s);
      }
      return skip;
    }
  }
  return skip;
}

void body_handler::end_message(message_list& list) {
  if (role_.empty()) {
    list.roles.push_back(role_of_item_type(type_));  // responses API items without a role
    return;
  }
  const pb::MessageRole r = role_of(role_);
  list.roles.push_back(r);
  if (!content_present_) return;
  if (r == pb::ROLE_SYSTEM || r == pb::ROLE_DEVELOPER) {
    for (std::size_t i = 0; i < message_pieces_.n; ++i) add_text(list.system, message_pieces_.items[i], limits_.max_text_bytes);
  } else if (r == pb::ROLE_USER) {
    list.last_user.clear();
    for (std::size_t i = 0; i < message_pieces_.n; ++i) add_text(list.last_user, message_pieces_.items[i], limits_.max_text_bytes);
  }
}

bool body_handler::close() {
  const frame f = stack_.back();
  stack_.pop_back();
  if (f.c == ctx::message) {
    end_message(list_of(f.owner));
  } else if (f.c == ctx::part && part_has_text_) {
    pieces_of(f.owner).push(part_text_);
  }
  return true;
}

void body_handler::commit(pb::QueryEvent& ev) const {
  auto number = [&](top_key k) -> const scalar* { return top_[k].k == kind::number ? &top_[k] : nullptr; };
  if (top_[k_model].k == kind::string && !model_.empty()) ev.set_model(model_.substr(0, 256));
  if (auto t = number(k_temperature)) ev.set_temperature(t->number);
  if (auto t = number(k_top_p)) ev.set_top_p(t->number);
  if (auto t = number(k_n)) ev.set_n(clamp_u32(t->number));
  for (top_key k : {k_max_tokens, k_max_completion_tokens, k_max_output_tokens}) {
    if (auto t = number(k)) {
      ev.set_max_tokens(clamp_u32(t->number));
      break;
    }
  }
  if (top_[k_stream].k == kind::boolean) ev.set_stream(top_[k_stream].flag);
  // logprobs: a bool in chat, an int (the number of top tokens) in completions.
  if (top_[k_logprobs].k == kind::boolean) {
    ev.set_logprobs(top_[k_logprobs].flag);
  } else if (auto t = number(k_logprobs)) {
    ev.set_logprobs(t->number > 0 || t->integer);
    ev.set_top_logprobs(clamp_u32(t->number));
  }
  if (auto t = number(k_top_logprobs)) ev.set_top_logprobs(clamp_u32(t->number));
  if (top_[k_logit_bias].k == kind::object) {
    ev.set_logit_bias_count(static_cast<std::uint32_t>(bias_.size()));
    double mx = 0;
    for (const auto& [k, a] : bias_) {
      if (a >= 0 && std::isfinite(a)) mx = std::max(mx, a);
    }
    ev.set_logit_bias_max_abs(mx);
  }
  if (top_[k_tools].k == kind::array) {
    ev.set_tools_count(tools_count_);
  } else if (top_[k_functions].k == kind::array) {
    ev.set_tools_count(functions_count_);
  }

  std::string system, prompt;
  auto take_messages = [&](const message_list& list) {
    for (auto r : list.roles) ev.add_roles(r);
    ev.set_message_count(list.count);
    system = list.system;
    prompt = list.last_user;
  };
  auto take_prompts = [&](const prompt_list& p) {
    if (p.has_text) prompt = p.text;
    if (p.items > 0) {
      ev.set_message_count(p.items);
      ev.add_roles(pb::ROLE_USER);
    }
  };
  if (top_[k_messages].k == kind::array) {
    take_messages(messages_);
  } else if (top_[k_input].k != kind::absent) {
    if (input_as_messages_) take_messages(input_messages_);
    else take_prompts(input_prompts_);
  } else if (top_[k_prompt].k != kind::absent) {
    take_prompts(prompt_);
  }
  if (top_[k_instructions].k == kind::string && !instructions_.empty()) {  // responses API
    if (!system.empty()) system.push_back('\n');
    system.append(instructions_);
  }
  for (std::size_t i = 0; i < system_pieces_.n; ++i) {  // Anthropic-style top-level system
    add_text(system, system_pieces_.items[i], limits_.max_text_bytes);
  }
  set_request_texts(std::move(system), std::move(prompt), ev, limits_);
}

}  // namespace

status parse_request_body(std::string_view body, pb::QueryEvent& ev, const parse_limits& limits) {
  ev.set_request_bytes(body.size());
  if (body.size() > limits.max_body_bytes) return status::invalid_argument("request body too large");
  try {
    thread_local json::sax_reader reader;
    thread_local body_handler h;
    h.reset(limits);
    switch (reader.parse(body, h, limits.max_depth)) {
      case json::sax_result::ok: break;
      case json::sax_result::depth: return status::invalid_argument("request body nested too deeply");
      default: return status::invalid_argument("request body is not valid JSON");
    }
    if (!h.root_is_object()) return status::invalid_argument("request body is not a JSON object");
    h.commit(ev);
    return status::ok();
  } catch (const std::exception& e) {  // bad_alloc and the like: never out of the analyzer
    return status::internal(std::string("request body: ") + e.what());
  }
}

}  // namespace dg::detectors
