// Helpers for the storage tests: realistic events and a temporary directory.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/clock.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::storage::testing {

// A chat request as the analyzer would hand it over: parameters, roles, text
// and features filled, ~400 bytes serialized.
inline pb::QueryEvent make_event(const std::string& client, micros ts, int i = 0) {
  pb::QueryEvent e;
  e.set_ts_micros(ts);
  e.set_client_id(client);
  e.set_client_hint("sk-...ab" + std::to_string(i % 100));
  e.set_credential_kind(pb::CREDENTIAL_BEARER);
  e.set_peer_address("203.0.113." + std::to_string(i % 250));
  e.set_user_agent("OpenAI/Python 1.51.0");
  e.set_method("POST");
  e.set_route("/v1/chat/completions");
  e.set_model("gpt-4o-mini");
  e.set_temperature(0.7);
  e.set_top_p(1.0);
  e.set_n(1);
  e.set_max_tokens(512);
  e.set_stream(i % 2 == 0);
  e.set_logprobs(i % 7 == 0);
  if (i % 7 == 0) e.set_top_logprobs(5);
  e.set_logit_bias_count(static_cast<std::uint32_t>(i % 3));
  e.set_logit_bias_max_abs(i % 3 == 0 ? 0.0 : 100.0);
  e.add_roles(pb::ROLE_SYSTEM);
  e.add_roles(pb::ROLE_USER);
  e.set_message_count(2);
  e.set_system_prompt_hash(0x1234567890abcdefULL);
  e.set_system_prompt("You are a helpful assistant. Think step by step.");
  e.set_prompt_text("Explain, step by step, why the sky is blue. Question " + std::to_string(i));
  e.set_prompt_tokens(40 + static_cast<std::uint32_t>(i % 50));
  e.set_completion_tokens(200 + static_cast<std::uint32_t>(i % 300));
  e.set_status(200);
  e.set_ttfb_micros(250000);
  e.set_duration_micros(2500000);
  e.set_request_bytes(600);
  e.set_response_bytes(2400);
  auto* f = e.mutable_features();
  f->set_version(1);
  std::uint32_t x = static_cast<std::uint32_t>(i) * 2654435761u + 1;
  for (int k = 0; k < 32; ++k) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->add_minhash(x);
  }
  f->set_simhash(0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(i + 1));
  f->set_skeleton_hash(0xabcdef);
  f->set_text_hash(static_cast<std::uint64_t>(i) * 31);
  f->set_reasoning_markers(3);
  f->set_word_count(12);
  for (int k = 0; k < 16; ++k) f->add_ngram_sketch(x + static_cast<std::uint32_t>(k) * 97);
  for (int k = 0; k < 4; ++k) f->add_topic_buckets(x % 4096 + static_cast<std::uint32_t>(k));
  return e;
}

// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dg-storage-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace dg::storage::testing
