#include "server/mock_answer.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "server/mock_text.h"

namespace dg::server::mock {

namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view system_fingerprint = "fp_mock0001";
constexpr std::int64_t no_limit = 1 << 20;

reply json_reply(unsigned status, std::string body) {
  reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

reply invalid(std::string_view message, std::string_view param = {}, std::string_view code = {}) {
  return json_reply(400, error_body(message, "invalid_request_error", param, code));
}

std::string make_id(std::string_view prefix, std::uint64_t seed, std::uint64_t serial) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "%08" PRIx64, hash64(std::to_string(serial), seed),
                static_cast<std::uint64_t>(serial & 0xffffffffU));
  return std::string(prefix) + buf;
}

// Reads the optional fields of a request body, remembering the first problem
// in the words the OpenAI API would use. null counts as absent.
class field_reader {
 public:
  explicit field_reader(const json& body) : body_(body) {}

  void integer(const char* key, std::int64_t min, std::int64_t max, std::int64_t& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer() || v->get<std::int64_t>() < min || v->get<std::int64_t>() > max) {
      fail(key, "Invalid '" + std::string(key) + "': expected an integer between " +
                    std::to_string(min) + " and " + std::to_string(max) + ".");
      return;
    }
    out = v->get<std::int64_t>();
  }
  void number(const char* key, double min, double max, double& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number() || v->get<double>() < min || v->get<double>() > max) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "Invalid '%s': expected a number between %g and %g.", key, min, max);
      fail(key, buf);
      return;
    }
    out = v->get<double>();
  }
  void boolean(const char* key, bool& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) {
      fail(key, "Invalid '" + std::string(key) + "': expected a boolean.");
      return;
    }
    out = v->get<bool>();
  }
  void string(const char* key, std::string& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_string()) {
      fail(key, "Invalid '" + std::string(key) + "': expected a string.");
      return;
    }
    out = v->get<std::string>();
  }
  void fail(std::string_view param, std::string message) {
    if (error_) return;
    error_ = invalid(message, param, "invalid_value");
  }
  std::optional<reply>& error() { return error_; }

 private:
  const json* find(const char* key) const {
    const auto it = body_.find(key);
    if (it == body_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const json& body_;
  std::optional<reply> error_;
};

// The generation parameters every text route shares.
struct sampling {
  std::int64_t max_tokens = no_limit;
  std::int64_t n = 1;
  double temperature = 1.0;
  std::int64_t seed = 0;
  bool logprobs = false;
  std::int64_t top_logprobs = 0;
  bool stream = false;
  bool include_usage = false;
};

void read_stream_options(const json& body, field_reader& f, sampling& s) {
  f.boolean("stream", s.stream);
  const auto it = body.find("stream_options");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) return f.fail("stream_options", "Invalid 'stream_options': expected an object.");
  if (!s.stream) {
    return f.fail("stream_options",
                  "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  }
  field_reader inner(*it);
  inner.boolean("include_usage", s.include_usage);
  if (inner.error()) f.fail("stream_options.include_usage", "Invalid 'stream_options.include_usage': expected a boolean.");
}

// Everything that decides the text goes into the seed; nothing else does.
std::uint64_t answer_seed(std::string_view model, std::string_view prompt_key, const sampling& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "\x1f%.4f\x1f%" PRId64, s.temperature, s.seed);
  std::string key(model);
  key += '\x1f';
  key += prompt_key;
  key += buf;
  return hash64(key, 0x6d6f636b);  // "mock"
}

// One choice being written: its prose, how far it got and why it stopped.
class choice_writer {
 public:
  choice_writer(std::uint64_t seed, std::vector<std::string> topics, std::int64_t max_tokens)
      : seed_(seed), gen_(seed, std::move(topics)), max_(static_cast<std::size_t>(max_tokens)) {}

  // The next token, or false once the choice is over (finish_reason() says why).
  bool next(std::string& token) {
    if (finish_ != nullptr) return false;
    if (emitted_ >= max_) {
      finish_ = "length";
      return false;
    }
    if (emitted_ > 0 && emitted_ >= gen_.natural_length() && gen_.at_sentence_end()) {
      finish_ = "stop";
      return false;
    }
    token = gen_.next_token();
    ++emitted_;
    return true;
  }
  const char* finish_reason() const { return finish_ == nullptr ? "stop" : finish_; }
  std::size_t tokens() const { return emitted_; }
  // A seed for the logprobs of the token just returned.
  std::uint64_t token_seed() const { return seed_ ^ (emitted_ * 0x9e3779b97f4a7c15ULL); }
  bool end_sent = false;  // the stream has sent this choice's finish event

 private:
  std::uint64_t seed_;
  prose_generator gen_;
  std::size_t max_;
  std::size_t emitted_ = 0;
  const char* finish_ = nullptr;
};

json token_bytes(std::string_view token) {
  json b = json::array();
  for (const char c : token) b.push_back(static_cast<unsigned char>(c));
  return b;
}

// A plausible distribution around the chosen token: the chosen token's
// log-probability near 0 (sharper when the temperature is low), alternatives
// sharing the rest of the mass, sorted most likely first.
struct alternative {
  std::string token;
  double logprob;
};
std::vector<alternative> token_distribution(const std::string& token, std::uint64_t seed,
                                            std::int64_t top, double temperature, double& chosen_lp) {
  rng r(seed);
  const double u = r.uniform();
  const double spread = std::clamp(temperature, 0.1, 2.0);
  chosen_lp = -(u * u * u) * 4.0 * spread - 1e-6 * static_cast<double>(r.below(1000));
  std::vector<alternative> out;
  if (top <= 0) return out;
  out.push_back({token, chosen_lp});
  const double rest = std::max(1e-9, 1.0 - std::exp(chosen_lp));
  double share = 0.5;  // halves: the alternatives together stay below `rest`
  while (static_cast<std::int64_t>(out.size()) < top) {
    std::string alt = random_vocabulary_token(r);
    if (std::any_of(out.begin(), out.end(), [&](const alternative& a) { return a.token == alt; })) {
      continue;
    }
    out.push_back({std::move(alt), std::log(rest * share)});
    share *= 0.5;
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const alternative& a, const alternative& b) { return a.logprob > b.logprob; });
  return out;
}

// One entry of chat "logprobs.content".
json chat_logprob(const std::string& token, std::uint64_t seed, const sampling& s) {
  double lp = 0;
  const auto dist = token_distribution(token, seed, s.top_logprobs, s.temperature, lp);
  json top = json::array();
  for (const auto& a : dist) {
    top.push_back({{"token", a.token}, {"logprob", a.logprob}, {"bytes", token_bytes(a.token)}});
  }
  return {{"token", token}, {"logprob", lp}, {"bytes", token_bytes(token)}, {"top_logprobs", std::move(top)}};
}

// The legacy completions shape: four parallel arrays.
struct completion_logprobs {
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(),
       text_offset = json::array();
  void add(const std::string& token, std::uint64_t seed, const sampling& s, std::size_t offset) {
    double lp = 0;
    const auto dist = token_distribution(token, seed, s.top_logprobs, s.temperature, lp);
    json top = json::object();
    for (const auto& a : dist) top[a.token] = a.logprob;
    tokens.push_back(token);
    token_logprobs.push_back(lp);
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset);
  }
  json to_json() {
    return {{"tokens", std::move(tokens)},
            {"token_logprobs", std::move(token_logprobs)},
            {"top_logprobs", std::move(top_logprobs)},
            {"text_offset", std::move(text_offset)}};
  }
};

json chat_usage(std::size_t prompt, std::size_t completion) {
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", 0}, {"audio_tokens", 0}}},
          {"completion_tokens_details",
           {{"reasoning_tokens", 0},
            {"audio_tokens", 0},
            {"accepted_prediction_tokens", 0},
            {"rejected_prediction_tokens", 0}}}};
}

// The text of a message "content": a string, or an array of parts with "text".
std::string content_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object()) {
        const auto t = part.find("text");
        if (t != part.end() && t->is_string()) {
          if (!out.empty()) out += '\n';
          out += t->get<std::string>();
        }
      } else if (part.is_string()) {
        out += part.get<std::string>();
      }
    }
  }
  return out;
}

// A text route's request, reduced to what generation needs.
struct text_job {
  std::string model;
  sampling s;
  std::size_t prompt_tokens = 0;
  std::vector<choice_writer> choices;
};

enum class text_format { chat, completion };

// The SSE stream of chat and legacy completions: one event per token,
// choices taking turns, then each choice's finish, the usage chunk when asked
// for, and [DONE].
class token_stream final : public event_source {
 public:
  token_stream(text_format format, text_job job, std::string id, std::int64_t created)
      : format_(format), job_(std::move(job)), id_(std::move(id)), created_(created),
        offsets_(job_.choices.size(), 0) {}

  bool next(std::string& out) override {
    switch (phase_) {
      case phase::role:
        if (format_ == text_format::chat && role_sent_ < job_.choices.size()) {
          json delta = {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}};
          emit(out, choice_chunk(role_sent_++, std::move(delta), nullptr, nullptr));
          return true;
        }
        phase_ = phase::tokens;
        [[fallthrough]];
      case phase::tokens:
        for (std::size_t tries = 0; tries < job_.choices.size(); ++tries) {
          const std::size_t i = cursor_;
          cursor_ = (cursor_ + 1) % job_.choices.size();
          choice_writer& c = job_.choices[i];
          if (c.end_sent) continue;
          std::string token;
          if (c.next(token)) {
            emit(out, token_chunk(i, token));
            return true;
          }
          c.end_sent = true;
          emit(out, finish_chunk(i));
          return true;
        }
        phase_ = phase::usage;
        [[fallthrough]];
      case phase::usage:
        phase_ = phase::done;
        if (job_.s.include_usage) {
          std::size_t completion = 0;
          for (const auto& c : job_.choices) completion += c.tokens();
          json chunk = header();
          chunk["choices"] = json::array();
          chunk["usage"] = chat_usage(job_.prompt_tokens, completion);
          emit(out, chunk);
          return true;
        }
        [[fallthrough]];
      case phase::done:
        phase_ = phase::over;
        out += "data: [DONE]\n\n";
        return true;
      case phase::over:
        return false;
    }
    return false;
  }

 private:
  enum class phase { role, tokens, usage, done, over };

  json header() const {
    json h = {{"id", id_},
              {"object", format_ == text_format::chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created_},
              {"model", job_.model},
              {"system_fingerprint", system_fingerprint}};
    if (format_ == text_format::chat) h["service_tier"] = "default";
    return h;
  }

  json choice_chunk(std::size_t index, json delta_or_text, json logprobs, json finish) const {
    json choice = {{"index", index}};
    if (format_ == text_format::chat) {
      choice["delta"] = std::move(delta_or_text);
    } else {
      choice["text"] = std::move(delta_or_text);
    }
    choice["logprobs"] = std::move(logprobs);
    choice["finish_reason"] = std::move(finish);
    json chunk = header();
    chunk["choices"] = json::array({std::move(choice)});
    if (job_.s.include_usage) chunk["usage"] = nullptr;
    return chunk;
  }

  json token_chunk(std::size_t i, const std::string& token) {
    const choice_writer& c = job_.choices[i];
    json logprobs = nullptr;
    if (job_.s.logprobs) {
      if (format_ == text_format::chat) {
        logprobs = {{"content", json::array({chat_logprob(token, c.token_seed(), job_.s)})},
                    {"refusal", nullptr}};
      } else {
        completion_logprobs lp;
        lp.add(token, c.token_seed(), job_.s, offsets_[i]);
        logprobs = lp.to_json();
      }
    }
    offsets_[i] += token.size();
    if (format_ == text_format::chat) {
      return choice_chunk(i, {{"content", token}}, std::move(logprobs), nullptr);
    }
    return choice_chunk(i, token, std::move(logprobs), nullptr);
  }

  json finish_chunk(std::size_t i) const {
    const char* reason = job_.choices[i].finish_reason();
    if (format_ == text_format::chat) return choice_chunk(i, json::object(), nullptr, reason);
    return choice_chunk(i, "", nullptr, reason);
  }

  static void emit(std::string& out, const json& chunk) {
    out += "data: ";
    out += chunk.dump();
    out += "\n\n";
  }

  text_format format_;
  text_job job_;
  std::string id_;
  std::int64_t created_;
  std::vector<std::size_t> offsets_;  // completions text_offset per choice
  phase phase_ = phase::role;
  std::size_t role_sent_ = 0;
  std::size_t cursor_ = 0;
};

// Reads the sampling fields shared by chat and completions.
void read_sampling(const json& body, field_reader& f, sampling& s, bool chat) {
  f.integer("max_tokens", 1, no_limit, s.max_tokens);
  if (chat) f.integer("max_completion_tokens", 1, no_limit, s.max_tokens);
  f.integer("n", 1, 128, s.n);
  f.number("temperature", 0.0, 2.0, s.temperature);
  f.integer("seed", INT64_MIN, INT64_MAX, s.seed);
  double top_p = 1.0;
  f.number("top_p", 0.0, 1.0, top_p);
  if (chat) {
    f.boolean("logprobs", s.logprobs);
    f.integer("top_logprobs", 0, 20, s.top_logprobs);
    if (!s.logprobs && body.contains("top_logprobs") && !body["top_logprobs"].is_null()) {
      f.fail("top_logprobs", "Invalid 'top_logprobs': 'logprobs' must be set to true if 'top_logprobs' is used.");
    }
  } else {
    // Legacy completions: "logprobs": k asks for the top k alternatives.
    std::int64_t k = -1;
    f.integer("logprobs", 0, 5, k);
    if (k >= 0) {
      s.logprobs = true;
      s.top_logprobs = k;
    }
  }
  read_stream_options(body, f, s);
}

reply chat_completions(const json& body, const request_context& ctx) {
  field_reader f(body);
  text_job job;
  job.model = "gpt-4o-mini";
  f.string("model", job.model);
  read_sampling(body, f, job.s, true);
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) {
    f.fail("messages", "Invalid 'messages': expected a non-empty array of messages.");
  }
  if (f.error()) return std::move(*f.error());

  std::string prompt, last_user, key;  // key: roles and texts, what the seed depends on
  for (const auto& m : *messages) {
    const auto role = m.is_object() ? m.find("role") : m.end();
    if (!m.is_object() || role == m.end() || !role->is_string()) {
      return invalid("Invalid 'messages': every message needs a string 'role'.", "messages");
    }
    const auto c = m.find("content");
    const std::string text = c == m.end() ? std::string() : content_text(*c);
    prompt += text;
    prompt += '\n';
    key += role->get_ref<const std::string&>();
    key += '\x1e';
    key += text;
    key += '\x1f';
    if (*role == "user") last_user = text;
  }
  job.prompt_tokens = prompt_tokens_for_words(count_words(prompt));
  const std::uint64_t seed = answer_seed(job.model, key, job.s);
  auto topics = topic_words(last_user.empty() ? prompt : last_user);
  for (std::int64_t i = 0; i < job.s.n; ++i) {
    job.choices.emplace_back(seed + static_cast<std::uint64_t>(i), topics, job.s.max_tokens);
  }
  const std::string id = make_id("chatcmpl-", seed, ctx.serial);

  if (job.s.stream) {
    reply r;
    r.stream = std::make_unique<token_stream>(text_format::chat, std::move(job), id, ctx.created);
    return r;
  }
  json choices = json::array();
  std::size_t completion = 0;
  for (std::size_t i = 0; i < job.choices.size(); ++i) {
    choice_writer& c = job.choices[i];
    std::string text, token;
    json content_lp = json::array();
    while (c.next(token)) {
      if (job.s.logprobs) content_lp.push_back(chat_logprob(token, c.token_seed(), job.s));
      text += token;
    }
    completion += c.tokens();
    json logprobs = nullptr;
    if (job.s.logprobs) logprobs = {{"content", std::move(content_lp)}, {"refusal", nullptr}};
    choices.push_back({{"index", i},
                       {"message",
                        {{"role", "assistant"},
                         {"content", std::move(text)},
                         {"refusal", nullptr},
                         {"annotations", json::array()}}},
                       {"logprobs", std::move(logprobs)},
                       {"finish_reason", c.finish_reason()}});
  }
  json out = {{"id", id},
              {"object", "chat.completion"},
              {"created", ctx.created},
              {"model", job.model},
              {"choices", std::move(choices)},
              {"usage", chat_usage(job.prompt_tokens, completion)},
              {"service_tier", "default"},
              {"system_fingerprint", system_fingerprint}};
  return json_reply(200, out.dump());
}

reply completions(const json& body, const request_context& ctx) {
  field_reader f(body);
  text_job job;
  job.model = "gpt-3.5-turbo-instruct";
  job.s.max_tokens = 16;  // the legacy API's default
  f.string("model", job.model);
  read_sampling(body, f, job.s, false);
  std::vector<std::string> prompts;
  const auto p = body.find("prompt");
  if (p == body.end() || p->is_null()) {
    prompts.emplace_back();  // the API answers an absent prompt as if it were empty
  } else if (p->is_string()) {
    prompts.push_back(p->get<std::string>());
  } else if (p->is_array() && !p->empty() && std::all_of(p->begin(), p->end(), [](const json& e) { return e.is_string(); })) {
    for (const auto& e : *p) prompts.push_back(e.get<std::string>());
  } else {
    f.fail("prompt", "Invalid 'prompt': expected a string or an array of strings.");
  }
  if (f.error()) return std::move(*f.error());

  std::uint64_t first_seed = 0;
  for (std::size_t pi = 0; pi < prompts.size(); ++pi) {
    job.prompt_tokens += prompt_tokens_for_words(count_words(prompts[pi]));
    const std::uint64_t seed = answer_seed(job.model, prompts[pi], job.s);
    if (pi == 0) first_seed = seed;
    const auto topics = topic_words(prompts[pi]);
    for (std::int64_t i = 0; i < job.s.n; ++i) {
      job.choices.emplace_back(seed + static_cast<std::uint64_t>(i), topics, job.s.max_tokens);
    }
  }
  const std::string id = make_id("cmpl-", first_seed, ctx.serial);
  if (job.s.stream) {
    reply r;
    r.stream = std::make_unique<token_stream>(text_format::completion, std::move(job), id, ctx.created);
    return r;
  }
  json choices = json::array();
  std::size_t completion = 0;
  for (std::size_t i = 0; i < job.choices.size(); ++i) {
    choice_writer& c = job.choices[i];
    std::string text, token;
    completion_logprobs lp;
    while (c.next(token)) {
      if (job.s.logprobs) lp.add(token, c.token_seed(), job.s, text.size());
      text += token;
    }
    completion += c.tokens();
    choices.push_back({{"text", std::move(text)},
                       {"index", i},
                       {"logprobs", job.s.logprobs ? lp.to_json() : json(nullptr)},
                       {"finish_reason", c.finish_reason()}});
  }
  const json usage = {{"prompt_tokens", job.prompt_tokens},
                      {"completion_tokens", completion},
                      {"total_tokens", job.prompt_tokens + completion}};
  json out = {{"id", id},
              {"object", "text_completion"},
              {"created", ctx.created},
              {"model", job.model},
              {"system_fingerprint", system_fingerprint},
              {"choices", std::move(choices)},
              {"usage", usage}};
  return json_reply(200, out.dump());
}

// ---- embeddings

std::string base64(const unsigned char* data, std::size_t size) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t b0 = data[i];
    const std::uint32_t b1 = i + 1 < size ? data[i + 1] : 0;
    const std::uint32_t b2 = i + 2 < size ? data[i + 2] : 0;
    const std::uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < size ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < size ? alphabet[v & 63] : '=';
  }
  return out;
}

// A hashed bag of words: each word adds its own pseudo-random direction, so
// texts that share words point the same way. Unit length.
std::vector<float> embed(std::string_view text, std::size_t dims) {
  std::vector<double> v(dims, 0.0);
  std::string word;
  std::size_t words = 0;
  const auto add = [&](std::string_view w) {
    rng r(hash64(w, 0x656d62));  // "emb"
    for (double& x : v) x += 2.0 * r.uniform() - 1.0;
    ++words;
  };
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      add(word);
      word.clear();
    }
  }
  if (!word.empty()) add(word);
  if (words == 0) add(text);
  double norm = 0;
  for (const double x : v) norm += x * x;
  norm = std::sqrt(norm);
  std::vector<float> out(dims);
  for (std::size_t i = 0; i < dims; ++i) out[i] = static_cast<float>(v[i] / norm);
  return out;
}

reply embeddings(const json& body) {
  field_reader f(body);
  std::string model = "text-embedding-3-small";
  std::string encoding = "float";
  f.string("model", model);
  f.string("encoding_format", encoding);
  std::int64_t dims = model.find("large") != std::string::npos ? 3072 : 1536;
  f.integer("dimensions", 1, 3072, dims);
  if (encoding != "float" && encoding != "base64") {
    f.fail("encoding_format", "Invalid 'encoding_format': expected 'float' or 'base64'.");
  }
  // Inputs: a string, strings, token ids, or arrays of token ids.
  std::vector<std::string> inputs;
  std::size_t tokens = 0;
  const auto in = body.find("input");
  const auto token_text = [](const json& ids) {
    std::string s;
    for (const auto& id : ids) s += std::to_string(id.get<std::int64_t>()) + " ";
    return s;
  };
  const auto all_ints = [](const json& a) {
    return std::all_of(a.begin(), a.end(), [](const json& e) { return e.is_number_integer(); });
  };
  if (in == body.end() || in->is_null() || (in->is_array() && in->empty())) {
    f.fail("input", "Invalid 'input': expected a non-empty string or array.");
  } else if (in->is_string()) {
    inputs.push_back(in->get<std::string>());
    tokens += prompt_tokens_for_words(count_words(inputs.back()));
  } else if (in->is_array() && all_ints(*in)) {
    inputs.push_back(token_text(*in));
    tokens += in->size();
  } else if (in->is_array()) {
    for (const auto& e : *in) {
      if (e.is_string()) {
        inputs.push_back(e.get<std::string>());
        tokens += prompt_tokens_for_words(count_words(inputs.back()));
      } else if (e.is_array() && !e.empty() && all_ints(e)) {
        inputs.push_back(token_text(e));
        tokens += e.size();
      } else {
        f.fail("input", "Invalid 'input': every element must be a string or an array of token ids.");
        break;
      }
    }
  } else {
    f.fail("input", "Invalid 'input': expected a non-empty string or array.");
  }
  if (f.error()) return std::move(*f.error());

  // Written by hand: the float array is most of the body, and %.9g keeps it as
  // short as the real API's.
  std::string out = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto vec = embed(inputs[i], static_cast<std::size_t>(dims));
    if (i > 0) out += ',';
    out += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)";
    if (encoding == "base64") {
      // Little-endian float32, as the API sends it (and as the SDKs decode it).
      std::vector<unsigned char> bytes(vec.size() * 4);
      for (std::size_t k = 0; k < vec.size(); ++k) {
        std::uint32_t u = 0;
        std::memcpy(&u, &vec[k], 4);
        for (int b = 0; b < 4; ++b) bytes[k * 4 + static_cast<std::size_t>(b)] = static_cast<unsigned char>(u >> (8 * b));
      }
      out += '"' + base64(bytes.data(), bytes.size()) + '"';
    } else {
      out += '[';
      char buf[32];
      for (std::size_t k = 0; k < vec.size(); ++k) {
        const int len = std::snprintf(buf, sizeof buf, k == 0 ? "%.9g" : ",%.9g", static_cast<double>(vec[k]));
        out.append(buf, static_cast<std::size_t>(len));
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)" + json(model).dump() + R"(,"usage":)" +
         json({{"prompt_tokens", tokens}, {"total_tokens", tokens}}).dump() + "}";
  return json_reply(200, std::move(out));
}

// ---- models

struct model_info {
  std::string_view id;
  std::int64_t created;
};
constexpr model_info known_models[] = {
    {"gpt-4o-mini", 1721172741},
    {"gpt-4o", 1715367049},
    {"gpt-4.1-mini", 1744318173},
    {"gpt-3.5-turbo-instruct", 1692901427},
    {"text-embedding-3-small", 1705948997},
    {"text-embedding-3-large", 1705953180},
};

json model_json(const model_info& m) {
  return {{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", "distillguard-mock"}};
}

reply models(std::string_view target) {
  constexpr std::string_view prefix = "/v1/models";
  if (target == prefix || target == "/v1/models/") {
    json data = json::array();
    for (const auto& m : known_models) data.push_back(model_json(m));
    return json_reply(200, json({{"object", "list"}, {"data", std::move(data)}}).dump());
  }
  const std::string_view id = target.substr(prefix.size() + 1);
  for (const auto& m : known_models) {
    if (m.id == id) return json_reply(200, model_json(m).dump());
  }
  return json_reply(404, error_body("The model '" + std::string(id) + "' does not exist",
                                    "invalid_request_error", "model", "model_not_found"));
}

// ---- responses

struct responses_job {
  std::string id, message_id, model, instructions;
  std::int64_t created = 0;
  std::int64_t max_output_tokens = no_limit;
  double temperature = 1.0;
  std::size_t input_tokens = 0;
};

json response_object(const responses_job& job, std::string_view status, const json& output,
                     std::size_t output_tokens, const char* finish) {
  json usage = nullptr;
  json incomplete = nullptr;
  if (status != "in_progress") {
    usage = {{"input_tokens", job.input_tokens},
             {"input_tokens_details", {{"cached_tokens", 0}}},
             {"output_tokens", output_tokens},
             {"output_tokens_details", {{"reasoning_tokens", 0}}},
             {"total_tokens", job.input_tokens + output_tokens}};
    if (std::string_view(finish) == "length") incomplete = {{"reason", "max_output_tokens"}};
  }
  return {{"id", job.id},
          {"object", "response"},
          {"created_at", job.created},
          {"status", status},
          {"error", nullptr},
          {"incomplete_details", std::move(incomplete)},
          {"instructions", job.instructions.empty() ? json(nullptr) : json(job.instructions)},
          {"max_output_tokens",
           job.max_output_tokens == no_limit ? json(nullptr) : json(job.max_output_tokens)},
          {"model", job.model},
          {"output", output},
          {"parallel_tool_calls", true},
          {"previous_response_id", nullptr},
          {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
          {"store", true},
          {"temperature", job.temperature},
          {"text", {{"format", {{"type", "text"}}}}},
          {"tool_choice", "auto"},
          {"tools", json::array()},
          {"top_p", 1.0},
          {"truncation", "disabled"},
          {"usage", std::move(usage)},
          {"user", nullptr},
          {"metadata", json::object()}};
}

json output_part(const std::string& text) {
  return {{"type", "output_text"}, {"text", text}, {"annotations", json::array()}};
}

json message_item(const responses_job& job, std::string_view status, json content) {
  return {{"id", job.message_id},
          {"type", "message"},
          {"status", status},
          {"role", "assistant"},
          {"content", std::move(content)}};
}

// The Responses API's typed events: created, in_progress, item and part
// added, one output_text.delta per token, then the done events and completed.
class responses_stream final : public event_source {
 public:
  responses_stream(responses_job job, choice_writer writer)
      : job_(std::move(job)), writer_(std::move(writer)) {}

  bool next(std::string& out) override {
    switch (step_) {
      case 0:
        ++step_;
        return emit(out, "response.created", {{"response", response_object(job_, "in_progress", json::array(), 0, "")}});
      case 1:
        ++step_;
        return emit(out, "response.in_progress", {{"response", response_object(job_, "in_progress", json::array(), 0, "")}});
      case 2:
        ++step_;
        return emit(out, "response.output_item.added",
                    {{"output_index", 0}, {"item", message_item(job_, "in_progress", json::array())}});
      case 3:
        ++step_;
        return emit(out, "response.content_part.added", part_fields(output_part("")));
      case 4: {
        std::string token;
        if (writer_.next(token)) {
          text_ += token;
          json f = part_fields(nullptr);
          f.erase("part");
          f["delta"] = token;
          f["logprobs"] = json::array();
          return emit(out, "response.output_text.delta", std::move(f));
        }
        ++step_;
        json f = part_fields(nullptr);
        f.erase("part");
        f["text"] = text_;
        f["logprobs"] = json::array();
        return emit(out, "response.output_text.done", std::move(f));
      }
      case 5:
        ++step_;
        return emit(out, "response.content_part.done", part_fields(output_part(text_)));
      case 6:
        ++step_;
        return emit(out, "response.output_item.done",
                    {{"output_index", 0}, {"item", message_item(job_, status(), json::array({output_part(text_)}))}});
      case 7: {
        ++step_;
        const json output = json::array({message_item(job_, status(), json::array({output_part(text_)}))});
        const bool complete = std::string_view(writer_.finish_reason()) == "stop";
        return emit(out, complete ? "response.completed" : "response.incomplete",
                    {{"response", response_object(job_, complete ? "completed" : "incomplete", output,
                                                  writer_.tokens(), writer_.finish_reason())}});
      }
      default:
        return false;
    }
  }

 private:
  const char* status() const {
    return std::string_view(writer_.finish_reason()) == "stop" ? "completed" : "incomplete";
  }
  json part_fields(json part) const {
    return {{"item_id", job_.message_id}, {"output_index", 0}, {"content_index", 0}, {"part", std::move(part)}};
  }
  bool emit(std::string& out, std::string_view type, json fields) {
    json event = {{"type", type}, {"sequence_number", sequence_++}};
    event.update(fields);
    out += "event: ";
    out += type;
    out += "\ndata: ";
    out += event.dump();
    out += "\n\n";
    return true;
  }

  responses_job job_;
  choice_writer writer_;
  std::string text_;
  int step_ = 0;
  std::int64_t sequence_ = 0;
};

reply responses(const json& body, const request_context& ctx) {
  field_reader f(body);
  responses_job job;
  job.model = "gpt-4o-mini";
  job.created = ctx.created;
  sampling s;
  f.string("model", job.model);
  f.string("instructions", job.instructions);
  f.integer("max_output_tokens", 1, no_limit, job.max_output_tokens);
  f.number("temperature", 0.0, 2.0, job.temperature);
  f.boolean("stream", s.stream);
  s.temperature = job.temperature;
  s.max_tokens = job.max_output_tokens;

  std::string prompt = job.instructions, last_user;
  const auto in = body.find("input");
  if (in == body.end() || in->is_null() || (!in->is_string() && !in->is_array())) {
    f.fail("input", "Invalid 'input': expected a string or an array of input items.");
  } else if (in->is_string()) {
    last_user = in->get<std::string>();
    prompt += '\n' + last_user;
  } else {
    for (const auto& item : *in) {
      if (!item.is_object()) continue;
      const auto c = item.find("content");
      if (c == item.end()) continue;
      const std::string text = content_text(*c);
      prompt += '\n' + text;
      if (item.value("role", "") == "user") last_user = text;
    }
  }
  if (f.error()) return std::move(*f.error());

  job.input_tokens = prompt_tokens_for_words(count_words(prompt));
  const std::uint64_t seed = answer_seed(job.model, job.instructions + '\x1f' + in->dump(), s);
  job.id = make_id("resp_", seed, ctx.serial);
  job.message_id = make_id("msg_", seed ^ 1, ctx.serial);
  choice_writer writer(seed, topic_words(last_user.empty() ? prompt : last_user), s.max_tokens);
  if (s.stream) {
    reply r;
    r.stream = std::make_unique<responses_stream>(std::move(job), std::move(writer));
    return r;
  }
  std::string text, token;
  while (writer.next(token)) text += token;
  const std::string_view reason = writer.finish_reason();
  const char* status = reason == "stop" ? "completed" : "incomplete";
  const json output = json::array({message_item(job, status, json::array({output_part(text)}))});
  return json_reply(200, response_object(job, status, output, writer.tokens(), writer.finish_reason()).dump());
}

}  // namespace

std::string error_body(std::string_view message, std::string_view type, std::string_view param,
                       std::string_view code) {
  const json e = {{"error",
                   {{"message", message},
                    {"type", type},
                    {"param", param.empty() ? json(nullptr) : json(param)},
                    {"code", code.empty() ? json(nullptr) : json(code)}}}};
  return e.dump();
}

reply answer(std::string_view method, std::string_view target, std::string_view body,
             const request_context& ctx) {
  const std::string_view path = target.substr(0, target.find('?'));
  const bool post = method == "POST";
  const bool get = method == "GET";
  if (get && (path == "/v1/models" || path.starts_with("/v1/models/"))) return models(path);
  const bool text_route = path == "/v1/chat/completions" || path == "/v1/completions" ||
                          path == "/v1/embeddings" || path == "/v1/responses";
  if (!post || !text_route) {
    return json_reply(404, error_body("Invalid URL (" + std::string(method) + " " + std::string(path) + ")",
                                      "invalid_request_error"));
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
        "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
        "valid JSON.)");
  }
  if (path == "/v1/chat/completions") return chat_completions(parsed, ctx);
  if (path == "/v1/completions") return completions(parsed, ctx);
  if (path == "/v1/embeddings") return embeddings(parsed);
  return responses(parsed, ctx);
}

}  // namespace dg::server::mock
