#include "server/mock_answer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dg::server::mock {
namespace {

using json = nlohmann::json;

const request_context ctx{1793577600, 7};

json post_json(std::string_view path, const json& body, unsigned expect_status = 200) {
  reply r = answer("POST", path, body.dump(), ctx);
  EXPECT_EQ(r.status, expect_status) << r.body;
  EXPECT_EQ(r.stream, nullptr);
  return json::parse(r.body);
}

// The events of a stream, each checked for SSE framing: "data: <payload>\n\n".
std::vector<std::string> stream_events(std::string_view path, const json& body) {
  reply r = answer("POST", path, body.dump(), ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.body.empty());
  std::vector<std::string> out;
  if (r.stream == nullptr) {
    ADD_FAILURE() << "no stream";
    return out;
  }
  std::string e;
  while (r.stream->next(e)) {
    EXPECT_TRUE(e.starts_with("data: ")) << e;
    EXPECT_TRUE(e.ends_with("\n\n")) << e;
    const std::string payload = e.substr(6, e.size() - 8);
    EXPECT_EQ(payload.find('\n'), std::string::npos) << "an event is one line: " << e;
    out.push_back(payload);
    e.clear();
  }
  EXPECT_FALSE(r.stream->next(e));
  EXPECT_TRUE(e.empty());
  return out;
}

json chat(std::string prompt) {
  return {{"model", "gpt-4o-mini"}, {"messages", {{{"role", "user"}, {"content", std::move(prompt)}}}}};
}

TEST(mock_answer, chat_is_deterministic_and_depends_on_the_prompt) {
  const json a = post_json("/v1/chat/completions", chat("Explain how tides work."));
  const json b = post_json("/v1/chat/completions", chat("Explain how tides work."));
  const json c = post_json("/v1/chat/completions", chat("Explain how rainbows form."));
  const auto text = [](const json& j) { return j["choices"][0]["message"]["content"].get<std::string>(); };
  EXPECT_EQ(text(a), text(b));
  EXPECT_NE(text(a), text(c));
  EXPECT_EQ(a["object"], "chat.completion");
  EXPECT_EQ(a["model"], "gpt-4o-mini");
  EXPECT_EQ(a["created"], ctx.created);
  EXPECT_TRUE(a["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(a["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(a["choices"][0]["finish_reason"], "stop");
  // A natural answer is a few paragraphs: realistic length, not a word or a book.
  const auto completion = a["usage"]["completion_tokens"].get<int>();
  EXPECT_GE(completion, 24);
  EXPECT_LE(completion, 1000);
}

TEST(mock_answer, usage_counts_prompt_words_times_1_3) {
  // 10 words.
  const json a = post_json("/v1/chat/completions", chat("one two three four five six seven eight nine ten"));
  EXPECT_EQ(a["usage"]["prompt_tokens"], 13);
  EXPECT_EQ(a["usage"]["total_tokens"].get<int>(),
            a["usage"]["prompt_tokens"].get<int>() + a["usage"]["completion_tokens"].get<int>());
}

TEST(mock_answer, length_follows_max_tokens) {
  for (int max : {1, 5, 17, 23}) {
    json req = chat("Write about the history of the printing press in Europe.");
    req["max_tokens"] = max;
    const json a = post_json("/v1/chat/completions", req);
    EXPECT_EQ(a["usage"]["completion_tokens"], max);
    EXPECT_EQ(a["choices"][0]["finish_reason"], "length");
  }
  // max_completion_tokens is the newer spelling of the same cap.
  json req = chat("Write about bridges.");
  req["max_completion_tokens"] = 9;
  EXPECT_EQ(post_json("/v1/chat/completions", req)["usage"]["completion_tokens"], 9);
  // A generous cap leaves the natural length, ending on a full sentence.
  req = chat("Write about bridges.");
  req["max_tokens"] = 100000;
  const json a = post_json("/v1/chat/completions", req);
  EXPECT_EQ(a["choices"][0]["finish_reason"], "stop");
  const std::string text = a["choices"][0]["message"]["content"];
  EXPECT_TRUE(text.ends_with(".")) << text;
  // A truncated answer is a prefix of the full one.
  req["max_tokens"] = 20;
  const std::string prefix = post_json("/v1/chat/completions", req)["choices"][0]["message"]["content"];
  EXPECT_TRUE(text.starts_with(prefix));
}

TEST(mock_answer, n_gives_distinct_choices) {
  json req = chat("Name a colour.");
  req["n"] = 3;
  req["max_tokens"] = 12;
  const json a = post_json("/v1/chat/completions", req);
  ASSERT_EQ(a["choices"].size(), 3u);
  EXPECT_NE(a["choices"][0]["message"]["content"], a["choices"][1]["message"]["content"]);
  EXPECT_EQ(a["choices"][2]["index"], 2);
  EXPECT_EQ(a["usage"]["completion_tokens"], 36);
}

TEST(mock_answer, temperature_and_seed_change_the_answer) {
  json req = chat("Tell me about owls.");
  const std::string base = post_json("/v1/chat/completions", req)["choices"][0]["message"]["content"];
  req["temperature"] = 0;
  EXPECT_NE(post_json("/v1/chat/completions", req)["choices"][0]["message"]["content"], base);
  req["temperature"] = 1.0;
  req["seed"] = 5;
  EXPECT_NE(post_json("/v1/chat/completions", req)["choices"][0]["message"]["content"], base);
}

TEST(mock_answer, chat_logprobs_are_plausible) {
  json req = chat("Why is the sky blue?");
  req["max_tokens"] = 20;
  req["logprobs"] = true;
  req["top_logprobs"] = 5;
  const json a = post_json("/v1/chat/completions", req);
  const json& content = a["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 20u);
  std::string joined;
  for (const auto& t : content) {
    joined += t["token"].get<std::string>();
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 5u);
    double mass = 0, prev = 0;
    bool has_chosen = false;
    for (std::size_t k = 0; k < t["top_logprobs"].size(); ++k) {
      const double lp = t["top_logprobs"][k]["logprob"];
      if (k > 0) {
        EXPECT_LE(lp, prev);
      }
      prev = lp;
      mass += std::exp(lp);
      has_chosen |= t["top_logprobs"][k]["token"] == t["token"];
    }
    EXPECT_LE(mass, 1.0 + 1e-9);
    EXPECT_TRUE(has_chosen);
    EXPECT_EQ(t["bytes"].size(), t["token"].get<std::string>().size());
  }
  EXPECT_EQ(joined, a["choices"][0]["message"]["content"]);
  // Without logprobs, none.
  EXPECT_TRUE(post_json("/v1/chat/completions", chat("Why is the sky blue?"))["choices"][0]["logprobs"].is_null());
}

TEST(mock_answer, chat_stream_matches_the_plain_answer) {
  json req = chat("Explain recursion to a child.");
  req["max_tokens"] = 20;
  const json plain = post_json("/v1/chat/completions", req);
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  const auto events = stream_events("/v1/chat/completions", req);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  int content_events = 0;
  bool saw_finish = false, saw_usage = false;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (chunk["choices"].empty()) {
      saw_usage = true;
      EXPECT_EQ(i, events.size() - 2) << "usage comes last, before [DONE]";
      EXPECT_EQ(chunk["usage"], plain["usage"]);
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    const json& choice = chunk["choices"][0];
    if (i == 0) {
      EXPECT_EQ(choice["delta"]["role"], "assistant");
    }
    if (choice["delta"].contains("content") && !choice["delta"]["content"].get<std::string>().empty()) {
      ++content_events;
      text += choice["delta"]["content"].get<std::string>();
    }
    if (!choice["finish_reason"].is_null()) {
      saw_finish = true;
      EXPECT_EQ(choice["finish_reason"], "length");
    }
  }
  EXPECT_EQ(content_events, 20);  // one event per token
  EXPECT_EQ(text, plain["choices"][0]["message"]["content"]);
  EXPECT_TRUE(saw_finish);
  EXPECT_TRUE(saw_usage);
}

TEST(mock_answer, stream_without_include_usage_has_no_usage_chunk) {
  json req = chat("Hello");
  req["max_tokens"] = 3;
  req["stream"] = true;
  const auto events = stream_events("/v1/chat/completions", req);
  ASSERT_EQ(events.size(), 1u + 3u + 1u + 1u);  // role, 3 tokens, finish, [DONE]
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_FALSE(json::parse(events[i]).contains("usage"));
  }
}

TEST(mock_answer, completions_default_to_16_tokens_and_stream) {
  const json a = post_json("/v1/completions", {{"model", "gpt-3.5-turbo-instruct"}, {"prompt", "Once upon a time"}});
  EXPECT_EQ(a["object"], "text_completion");
  EXPECT_EQ(a["usage"]["completion_tokens"], 16);
  EXPECT_EQ(a["choices"][0]["finish_reason"], "length");

  const json lp = post_json("/v1/completions", {{"prompt", "Once upon a time"}, {"logprobs", 3}, {"max_tokens", 4}});
  const json& l = lp["choices"][0]["logprobs"];
  ASSERT_EQ(l["tokens"].size(), 4u);
  EXPECT_EQ(l["top_logprobs"][0].size(), 3u);
  EXPECT_EQ(l["text_offset"][0], 0);

  const auto events = stream_events(
      "/v1/completions", {{"prompt", {"a b", "c d"}}, {"max_tokens", 2}, {"stream", true},
                          {"stream_options", {{"include_usage", true}}}});
  // Two prompts x 2 tokens, two finishes, usage, [DONE].
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(json::parse(events[6])["usage"]["completion_tokens"], 4);
}

TEST(mock_answer, embeddings_are_deterministic_unit_vectors) {
  const json a = post_json("/v1/embeddings", {{"model", "text-embedding-3-small"}, {"input", "the cat sat"}});
  const json b = post_json("/v1/embeddings", {{"model", "text-embedding-3-small"}, {"input", "the cat sat"}});
  ASSERT_EQ(a["data"][0]["embedding"].size(), 1536u);
  EXPECT_EQ(a, b);
  double norm = 0;
  for (const auto& x : a["data"][0]["embedding"]) norm += x.get<double>() * x.get<double>();
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(a["usage"]["prompt_tokens"], 4);  // 3 words * 1.3, rounded up

  // Texts sharing words are closer than unrelated texts.
  const json v = post_json("/v1/embeddings", {{"input", {"the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew"}},
                                              {"dimensions", 256}});
  ASSERT_EQ(v["data"].size(), 3u);
  const auto dot = [&](int i, int j) {
    double s = 0;
    for (int k = 0; k < 256; ++k) s += v["data"][i]["embedding"][k].get<double>() * v["data"][j]["embedding"][k].get<double>();
    return s;
  };
  EXPECT_GT(dot(0, 1), dot(0, 2));
}

TEST(mock_answer, embeddings_base64_is_little_endian_float32) {
  const json f = post_json("/v1/embeddings", {{"input", "hello"}, {"dimensions", 8}});
  const json b = post_json("/v1/embeddings", {{"input", "hello"}, {"dimensions", 8}, {"encoding_format", "base64"}});
  const std::string s = b["data"][0]["embedding"];
  ASSERT_EQ(s.size(), 44u);  // 32 bytes
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> bytes;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : s) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<std::uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  ASSERT_EQ(bytes.size(), 32u);
  for (int k = 0; k < 8; ++k) {
    std::uint32_t u = 0;
    for (int i = 3; i >= 0; --i) u = (u << 8) | bytes[static_cast<std::size_t>(k * 4 + i)];
    float x = 0;
    std::memcpy(&x, &u, 4);
    EXPECT_NEAR(x, f["data"][0]["embedding"][k].get<double>(), 1e-7);
  }
}

TEST(mock_answer, models_list_and_lookup) {
  reply r = answer("GET", "/v1/models", "", ctx);
  ASSERT_EQ(r.status, 200u);
  const json list = json::parse(r.body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_GE(list["data"].size(), 3u);
  r = answer("GET", "/v1/models/gpt-4o-mini", "", ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body)["id"], "gpt-4o-mini");
  r = answer("GET", "/v1/models/nope", "", ctx);
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");
}

TEST(mock_answer, responses_plain_and_stream) {
  const json a = post_json("/v1/responses", {{"model", "gpt-4o-mini"}, {"input", "Describe a volcano."}, {"max_output_tokens", 20}});
  EXPECT_EQ(a["object"], "response");
  EXPECT_EQ(a["status"], "incomplete");
  EXPECT_EQ(a["usage"]["output_tokens"], 20);
  const std::string text = a["output"][0]["content"][0]["text"];

  reply r = answer("POST", "/v1/responses",
                   json({{"model", "gpt-4o-mini"}, {"input", "Describe a volcano."}, {"max_output_tokens", 20}, {"stream", true}}).dump(),
                   ctx);
  ASSERT_NE(r.stream, nullptr);
  std::string e, deltas, last_type;
  int n = 0;
  while (r.stream->next(e)) {
    ASSERT_TRUE(e.starts_with("event: ")) << e;
    const auto nl = e.find('\n');
    const std::string type = e.substr(7, nl - 7);
    ASSERT_EQ(e.compare(nl + 1, 6, "data: "), 0);
    const json data = json::parse(e.substr(nl + 7, e.size() - nl - 9));
    EXPECT_EQ(data["type"], type);
    EXPECT_EQ(data["sequence_number"], n++);
    if (type == "response.output_text.delta") deltas += data["delta"].get<std::string>();
    last_type = type;
    e.clear();
  }
  EXPECT_EQ(deltas, text);
  EXPECT_EQ(last_type, "response.incomplete");
}

TEST(mock_answer, errors_use_the_openai_shape) {
  const auto check = [](const reply& r, unsigned status, const char* param) {
    EXPECT_EQ(r.status, status);
    const json j = json::parse(r.body);
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"]["type"].is_string());
    EXPECT_TRUE(j["error"].contains("code"));
    if (param == nullptr) {
      EXPECT_TRUE(j["error"]["param"].is_null());
    } else {
      EXPECT_EQ(j["error"]["param"], param);
    }
  };
  check(answer("POST", "/v1/chat/completions", "{not json", ctx), 400, nullptr);
  check(answer("POST", "/v1/chat/completions", "[1,2]", ctx), 400, nullptr);
  check(answer("POST", "/v1/chat/completions", R"({"model":"m"})", ctx), 400, "messages");
  json req = chat("x");
  req["max_tokens"] = 0;
  check(answer("POST", "/v1/chat/completions", req.dump(), ctx), 400, "max_tokens");
  req = chat("x");
  req["top_logprobs"] = 3;
  check(answer("POST", "/v1/chat/completions", req.dump(), ctx), 400, "top_logprobs");
  req = chat("x");
  req["temperature"] = 3;
  check(answer("POST", "/v1/chat/completions", req.dump(), ctx), 400, "temperature");
  req = chat("x");
  req["stream_options"] = {{"include_usage", true}};
  check(answer("POST", "/v1/chat/completions", req.dump(), ctx), 400, "stream_options");
  check(answer("POST", "/v1/embeddings", R"({"input":[]})", ctx), 400, "input");
  check(answer("POST", "/v1/nope", "{}", ctx), 404, nullptr);
  check(answer("GET", "/v1/chat/completions", "", ctx), 404, nullptr);
}

}  // namespace
}  // namespace dg::server::mock
