// Each detector on constructed sequences with explicit event time: a detector
// that cannot tell a sweep from a conversation fails here.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "detectors/cadence.h"
#include "detectors/conversation.h"
#include "detectors/coverage.h"
#include "detectors/extraction.h"
#include "detectors/features.h"
#include "detectors/linking.h"
#include "detectors/mmd.h"
#include "detectors/prada.h"
#include "detectors/reasoning.h"
#include "detectors/templates.h"
#include "detectors/volume.h"
#include "traffic.h"

namespace dg::detectors {
namespace {

using testing::chat_turn;
using testing::single;

constexpr micros day0 = 1793577600LL * 1000000;  // a Monday, 00:00 UTC
constexpr micros sec = 1000000;

// Folds events into one detector state, keeping the facts every score reads.
struct harness {
  feature_extractor fx{7};
  population pop;
  client_facts facts;

  event_view view(pb::QueryEvent& ev) {
    fx.ensure(ev);
    ++facts.events;
    if (facts.first_ts == 0) facts.first_ts = ev.ts_micros();
    facts.last_ts = ev.ts_micros();
    if (ev.completion_tokens() || ev.prompt_tokens()) {
      ++facts.usage_events;
      facts.prompt_tokens += ev.prompt_tokens();
      facts.completion_tokens += ev.completion_tokens();
    }
    bool stateless = std::none_of(ev.roles().begin(), ev.roles().end(), [](int r) { return r == pb::ROLE_ASSISTANT; });
    return event_view{ev, ev.features(), ev.ts_micros(), stateless, ev.completion_tokens() > 0};
  }
};

std::vector<std::string> shuffled_questions(std::size_t n, std::uint64_t seed) {
  const auto& q = testing::questions();
  testing::rng r(seed);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(q[r.below(q.size())]);
  return out;
}

// A person's multi-turn conversation on one subject: the prompts keep to a few topics.
std::vector<std::vector<chat_turn>> conversation_turns(std::size_t n) {
  const auto& q = testing::questions();  // consecutive SQuAD questions share a passage
  std::vector<std::vector<chat_turn>> out;
  std::vector<chat_turn> conv;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 6 == 0) conv.clear();
    conv.push_back({"user", q[i % 60]});
    out.push_back(conv);
    conv.push_back({"assistant", "Here is an answer about that."});
  }
  return out;
}

TEST(Volume, HeavyClientAgainstPopulationScoresAndOrdinaryDoesNot) {
  volume_options o;
  volume_detector det(o);
  harness h;
  std::vector<volume_state> people(60);
  volume_state heavy, ordinary;
  client_facts heavy_facts, ordinary_facts;
  testing::rng r(1);
  for (int d = 0; d < 2; ++d) {
    for (int i = 0; i < 3000; ++i) {
      micros ts = day0 + d * micros_per_day + i * 28 * sec;
      if (i % 50 == 0) {  // 60 people at ~20 requests a day
        for (auto& p : people) {
          auto ev = single("p", ts, "hi");
          det.update(p, h.view(ev), h.pop);
        }
      }
      auto ev = single("heavy", ts, "q");
      det.update(heavy, h.view(ev), h.pop);
      ++heavy_facts.events;
      if (i % 100 == 0) {
        auto ev2 = single("ordinary", ts, "q");
        det.update(ordinary, h.view(ev2), h.pop);
        ++ordinary_facts.events;
      }
    }
  }
  ordinary_facts.events = 200;  // past min_events: volume alone must keep it at zero
  auto hs = det.score(heavy, h.pop, heavy_facts);
  auto os = det.score(ordinary, h.pop, ordinary_facts);
  EXPECT_GT(hs.score, 0.9) << hs.reason;
  EXPECT_EQ(os.score, 0.0) << os.reason;
  EXPECT_NE(hs.reason.find("requests"), std::string::npos);
}

TEST(Volume, CusumCatchesARamp) {
  volume_options o;
  volume_detector det(o);
  harness h;
  volume_state s;
  client_facts f;
  f.events = 1000;
  micros ts = day0;
  for (int hour = 0; hour < 24; ++hour) {  // a steady 5 an hour, then 400 an hour
    int n = hour < 20 ? 5 : 400;
    for (int i = 0; i < n; ++i) {
      auto ev = single("c", ts + i * (3600 * sec / n), "q");
      det.update(s, h.view(ev), h.pop);
    }
    ts += 3600 * sec;
  }
  EXPECT_GT(s.cusum, 2 * o.cusum_h);
  EXPECT_GT(det.score(s, h.pop, f).score, 0.9);
}

TEST(Cadence, ScriptWithoutSleepScoresAndPersonDoesNot) {
  cadence_options o;
  cadence_detector det(o);
  harness h;
  cadence_state script, person;
  client_facts fs, fp;
  testing::rng r(3);
  for (micros ts = day0; ts < day0 + 4 * micros_per_day; ts += 90 * sec) {
    auto ev = single("bot", ts, "q");
    det.update(script, h.view(ev), h.pop);
    ++fs.events;
  }
  for (int d = 0; d < 4; ++d) {
    for (int s = 0; s < 6; ++s) {  // sessions between 08:00 and 23:00, bursty gaps
      micros ts = day0 + d * micros_per_day + (8 + s * 2) * 3600 * sec + static_cast<micros>(r.below(3000)) * sec;
      for (int i = 0; i < 12; ++i) {
        ts += static_cast<micros>(5 + r.below(r.below(2) ? 300 : 40)) * sec;
        auto ev = single("human", ts, "q");
        det.update(person, h.view(ev), h.pop);
        ++fp.events;
      }
    }
  }
  auto a = det.score(script, h.pop, fs), b = det.score(person, h.pop, fp);
  EXPECT_GT(a.score, 0.9) << a.reason;
  EXPECT_LT(b.score, 0.1) << b.reason;
  EXPECT_EQ(cadence_detector::longest_idle_run(0xffffff), 0);
  EXPECT_EQ(cadence_detector::longest_idle_run(0x00ff00), 16);  // 16 idle hours, across midnight
}

TEST(Coverage, SweepReachesNewTopicsAndConversationDoesNot) {
  DG_REQUIRE_DATASETS();
  coverage_options o;
  coverage_detector det(o);
  harness h;
  coverage_state sweep, chat;
  client_facts fs, fc;
  const auto& al = testing::alpaca();
  for (std::size_t i = 0; i < 1500; ++i) {
    auto ev = single("sweep", day0 + static_cast<micros>(i) * sec, al[i], {}, 300);
    det.update(sweep, h.view(ev), h.pop);
  }
  fs.events = 1500;
  fs.usage_events = 1500;
  fs.completion_tokens = 1500 * 300;
  auto turns = conversation_turns(1500);
  for (std::size_t i = 0; i < turns.size(); ++i) {
    auto ev = testing::chat_event("chat", day0 + static_cast<micros>(i) * sec, turns[i]);
    det.update(chat, h.view(ev), h.pop);
  }
  fc = fs;
  auto a = det.score(sweep, h.pop, fs), b = det.score(chat, h.pop, fc);
  EXPECT_GT(a.score, 0.6) << a.reason;
  EXPECT_LT(b.score, 0.05) << b.reason;
  EXPECT_GT(sweep.distinct(), 900);
  EXPECT_LT(chat.distinct(), 120);
  // The same sweep with one-token answers is not worth much to a distiller.
  client_facts tiny = fs;
  tiny.completion_tokens = 1500;
  EXPECT_LT(det.score(sweep, h.pop, tiny).score, 0.5 * a.score);
}

TEST(Templates, TemplateSweepScoresAndHumanQuestionsDoNot) {
  DG_REQUIRE_DATASETS();
  templates_options o;
  templates_detector det(o);
  harness h;
  templates_state tmpl, human;
  client_facts f;
  f.events = 300;
  const auto& q = testing::questions();
  testing::rng r(5);
  for (int i = 0; i < 300; ++i) {
    std::string topic = q[r.below(q.size())];
    auto ev = single("t", day0 + i * sec,
                     "You are an expert teacher. Write a detailed, well structured lesson for high school students "
                     "about the following topic: " + topic + " Include three examples and a short quiz at the end.");
    det.update(tmpl, h.view(ev), h.pop);
  }
  for (const auto& text : shuffled_questions(300, 9)) {
    auto ev = single("h", day0, text);
    det.update(human, h.view(ev), h.pop);
  }
  auto a = det.score(tmpl, h.pop, f), b = det.score(human, h.pop, f);
  EXPECT_GT(a.score, 0.9) << a.reason;
  EXPECT_LT(b.score, 0.1) << b.reason;
  EXPECT_NE(a.reason.find("1 template"), std::string::npos) << a.reason;
}

TEST(Prada, MixtureOfNearDuplicatesAndFreshPromptsIsNotNormal) {
  DG_REQUIRE_DATASETS();
  prada_options o;
  prada_detector det(o);
  templates_detector tdet{templates_options{}};
  harness h;
  templates_state t_mixed, t_diverse;
  prada_state mixed, diverse;
  client_facts f;
  f.events = 400;
  const auto qs = shuffled_questions(400, 11);
  for (int i = 0; i < 400; ++i) {
    // Two of three prompts perturb a seed prompt by one word (synthetic queries around seeds).
    std::string text = i % 3 ? "Describe the main causes and the lasting consequences of event number " +
                                   std::to_string(i % 7) + " in the history of the region"
                             : qs[static_cast<std::size_t>(i)];
    auto ev = single("m", day0, text);
    det.update(mixed, tdet.update(t_mixed, h.view(ev), h.pop));
    auto ev2 = single("d", day0, qs[static_cast<std::size_t>(i)]);
    det.update(diverse, tdet.update(t_diverse, h.view(ev2), h.pop));
  }
  det.refresh(mixed);
  det.refresh(diverse);
  auto a = det.score(mixed, h.pop, f), b = det.score(diverse, h.pop, f);
  EXPECT_GT(a.score, 0.5) << a.reason << " W=" << mixed.w;
  EXPECT_EQ(b.score, 0.0) << b.reason << " W=" << diverse.w << " p=" << diverse.p;
}

TEST(Mmd, NarrowFamilyDiffersFromPopulationAndDiverseDoesNot) {
  DG_REQUIRE_DATASETS();
  mmd_options o;
  mmd_detector det(o);
  harness h;
  const auto qs = shuffled_questions(600, 13);
  // Population: many clients' first prompts.
  for (std::size_t c = 0; c < 300; ++c) {
    mmd_state s;
    auto ev = single("p", day0, qs[c]);
    det.update(s, h.view(ev), h.pop, 1);
  }
  mmd_state narrow, diverse;
  client_facts f;
  f.events = 100;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    auto ev = single("n", day0, "Generate a product description for a blue cotton t-shirt size " + std::to_string(i));
    det.update(narrow, h.view(ev), h.pop, 1000 + i);  // not a power of two: stays out of the reservoir
    auto ev2 = single("d", day0, qs[300 + i]);
    det.update(diverse, h.view(ev2), h.pop, 1000 + i);
  }
  det.refresh(narrow, h.pop);
  det.refresh(diverse, h.pop);
  EXPECT_GT(det.score(narrow, h.pop, f).score, 0.5) << narrow.mmd2;
  EXPECT_EQ(det.score(diverse, h.pop, f).score, 0.0) << diverse.mmd2;
}

TEST(Reasoning, FixedReasoningSystemPromptWithLongTracesScores) {
  DG_REQUIRE_DATASETS();
  reasoning_options o;
  reasoning_detector det(o);
  harness h;
  reasoning_state harvest, plain;
  const std::string sys = "You are a meticulous assistant. Think step by step and show your reasoning in full "
                          "before giving the final answer.";
  const auto qs = shuffled_questions(200, 17);
  for (const auto& q : qs) {
    auto ev = single("r", day0, q, sys, 900);
    det.update(harvest, h.view(ev), h.pop);
  }
  client_facts fh = h.facts;
  harness h2;
  for (const auto& q : qs) {
    auto ev = single("p", day0, q, {}, 120);
    det.update(plain, h2.view(ev), h2.pop);
  }
  auto a = det.score(harvest, h.pop, fh), b = det.score(plain, h2.pop, h2.facts);
  EXPECT_GT(a.score, 0.9) << a.reason;
  EXPECT_EQ(b.score, 0.0) << b.reason;
  EXPECT_NE(a.reason.find("fixed reasoning system prompt"), std::string::npos) << a.reason;
}

TEST(Conversation, SingleTurnSweepVersusGrowingConversations) {
  DG_REQUIRE_DATASETS();
  conversation_options o;
  conversation_detector det(o);
  harness h;
  conversation_state sweep, chat;
  for (const auto& q : shuffled_questions(200, 19)) {
    auto ev = single("s", day0, q);
    det.update(sweep, h.view(ev), h.pop);
  }
  for (const auto& turns : conversation_turns(200)) {
    auto ev = testing::chat_event("c", day0, turns);
    det.update(chat, h.view(ev), h.pop);
  }
  client_facts f;
  f.events = 200;
  EXPECT_GT(det.score(sweep, h.pop, f).score, 0.99);
  EXPECT_EQ(det.score(chat, h.pop, f).score, 0.0);
  EXPECT_LT(chat.stateless_share(), 0.2);
}

// A retrieval backend's embedding calls have no turns and generate nothing: they must not make its
// conversations look like stateless querying.
TEST(Conversation, EmbeddingsCountNeitherWay) {
  DG_REQUIRE_DATASETS();
  conversation_options o;
  conversation_detector det(o);
  harness h;
  conversation_state chat;
  for (const auto& turns : conversation_turns(100)) {
    auto ev = testing::chat_event("c", day0, turns);
    det.update(chat, h.view(ev), h.pop);
    pb::QueryEvent emb;
    emb.set_client_id("c");
    emb.set_route("/v1/embeddings");
    emb.set_prompt_text(turns.back().content);
    det.update(chat, h.view(emb), h.pop);
  }
  EXPECT_EQ(chat.requests, 100u);
  EXPECT_LT(chat.stateless_share(), 0.2);
}

// Coverage keeps what a client has reached: working through a pool again (few new topics lately)
// does not erase thousands of topics covered, while a client asking about a few topics never scores.
TEST(Coverage, KeepsTheTopicsReachedWhenThePaceDrops) {
  DG_REQUIRE_DATASETS();
  coverage_options o;
  coverage_detector det(o);
  harness h;
  coverage_state sweep, narrow;
  const auto qs = shuffled_questions(3000, 41);
  for (const auto& q : qs) {
    auto ev = single("s", day0, q);
    det.update(sweep, h.view(ev), h.pop);
  }
  for (int pass = 0; pass < 3; ++pass) {  // the same 300 questions again: no new topics lately
    for (std::size_t i = 0; i < 300; ++i) {
      auto ev = single("s", day0, qs[i]);
      det.update(sweep, h.view(ev), h.pop);
    }
  }
  for (std::size_t i = 0; i < 3900; ++i) {
    auto ev = single("n", day0, qs[i % 20]);
    det.update(narrow, h.view(ev), h.pop);
  }
  client_facts f;
  f.events = 3900;
  f.usage_events = 3900;
  f.completion_tokens = 3900 * 600;
  EXPECT_LT(sweep.new_rate, 0.15);
  EXPECT_GT(det.score(sweep, h.pop, f).score, 0.5) << det.score(sweep, h.pop, f).reason;
  EXPECT_EQ(det.score(narrow, h.pop, f).score, 0.0);
}

TEST(Extraction, LogitBiasProbesScoreAndOrdinaryRequestsDoNot) {
  extraction_options o;
  extraction_detector det(o);
  harness h;
  extraction_state probe, normal, classifier;
  for (int i = 0; i < 100; ++i) {
    nlohmann::json extra = {{"max_tokens", 1}, {"logprobs", true}, {"top_logprobs", 20},
                            {"logit_bias", {{std::to_string(1000 + i * 7), 100}, {std::to_string(2000 + i), 100}}}};
    auto ev = testing::chat_event("x", day0 + i * sec, {{"user", "The quick brown fox"}}, extra);
    det.update(probe, h.view(ev), h.pop);
    auto ev2 = testing::chat_event("n", day0 + i * sec, {{"user", "question " + std::to_string(i)}},
                                   {{"max_tokens", 500}, {"temperature", 0.7}});
    det.update(normal, h.view(ev2), h.pop);
    // A batch classifier reading one label's logprobs: distinct prompts, no bias.
    auto ev3 = testing::chat_event("k", day0 + i * sec, {{"user", "Label this review: " + std::to_string(i)}},
                                   {{"max_tokens", 1}, {"logprobs", true}});
    det.update(classifier, h.view(ev3), h.pop);
  }
  client_facts f;
  f.events = 100;
  auto a = det.score(probe, h.pop, f);
  EXPECT_DOUBLE_EQ(a.score, 1.0) << a.reason;
  EXPECT_EQ(det.score(normal, h.pop, f).score, 0.0);
  EXPECT_LE(det.score(classifier, h.pop, f).score, 0.5);
  EXPECT_GT(probe.repeat_bias, 90u);
}

TEST(Linking, SwarmSharingASystemPromptFormsOneClusterAndStrangersDoNot) {
  DG_REQUIRE_DATASETS();
  linking_options o;
  account_linker linker(o);
  harness h;
  int merges = 0;
  linker.set_merge_callback([&](std::uint32_t, std::uint32_t) { ++merges; });
  const std::string sys = "You are DataForge generator v3. Produce a complete, self-contained answer with all "
                          "intermediate steps, formatted in markdown.";
  std::vector<link_state> ls(40);
  std::vector<templates_state> ts(40);
  const auto qs = shuffled_questions(400, 23);
  for (std::uint32_t c = 0; c < 40; ++c) linker.add_client(c);
  for (int round = 0; round < 5; ++round) {
    for (std::uint32_t c = 0; c < 40; ++c) {
      bool swarm = c < 20;
      auto ev = single("c" + std::to_string(c), day0, qs[static_cast<std::size_t>(round * 40 + static_cast<int>(c))],
                       swarm ? sys : std::string());
      ev.set_peer_address("198.51." + std::to_string(c) + "." + std::to_string(round + 1));
      ev.set_user_agent(swarm ? "python-httpx/0.27" : "Mozilla/5.0 client " + std::to_string(c));
      linker.update(ls[c], c, h.view(ev), ts[c]);
    }
  }
  std::uint32_t root = linker.find(0);
  EXPECT_EQ(linker.cluster_size(root), 20u);
  for (std::uint32_t c = 1; c < 20; ++c) EXPECT_EQ(linker.find(c), root);
  for (std::uint32_t c = 20; c < 40; ++c) EXPECT_EQ(linker.cluster_size(linker.find(c)), 1u);
  EXPECT_EQ(merges, 19);
  EXPECT_EQ(link_kinds_text(linker.cluster_links(root)), "system prompt");
}

// A swarm behind a few address ranges that gives every account its own browser agent still sends
// its script's parameters; people behind one office NAT choose their own model and settings.
TEST(Linking, SwarmRotatingAgentsLinksByRangeAndParametersAndOfficeUsersDoNot) {
  DG_REQUIRE_DATASETS();
  linking_options o;
  account_linker linker(o);
  harness h;
  std::vector<link_state> ls(20);
  std::vector<templates_state> ts(20);
  const auto qs = shuffled_questions(400, 31);
  for (std::uint32_t c = 0; c < 20; ++c) linker.add_client(c);
  for (int round = 0; round < 6; ++round) {
    for (std::uint32_t c = 0; c < 20; ++c) {
      const bool swarm = c < 10;
      nlohmann::json extra;
      if (swarm) {
        extra = {{"max_tokens", 2048}};
      } else {  // office users: their own temperature, streaming now and then
        extra = {{"temperature", 0.1 * (c - 10)}, {"stream", (round + c) % 3 == 0}};
      }
      auto ev = testing::chat_event("c" + std::to_string(c), day0, {{"user", qs[static_cast<std::size_t>(round * 20 + static_cast<int>(c))]}},
                           extra);
      // Swarm: two ranges, client 0 uses both (it bridges them); office: one range.
      std::string net = swarm ? (c == 0 ? (round % 2 ? "203.0.113." : "198.51.100.") : (c % 2 ? "203.0.113." : "198.51.100."))
                              : "192.0.2.";
      ev.set_peer_address(net + std::to_string(c + 2));
      ev.set_user_agent("Mozilla/5.0 browser " + std::to_string(c));
      linker.update(ls[c], c, h.view(ev), ts[c]);
    }
  }
  const std::uint32_t root = linker.find(0);
  EXPECT_EQ(linker.cluster_size(root), 10u);
  for (std::uint32_t c = 1; c < 10; ++c) EXPECT_EQ(linker.find(c), root);
  for (std::uint32_t c = 10; c < 20; ++c) EXPECT_EQ(linker.cluster_size(linker.find(c)), 1u) << c;
  EXPECT_EQ(link_kinds_text(linker.cluster_links(root)), "address range and request parameters");

  // Switched off, the same traffic links nobody.
  o.by_parameters = false;
  account_linker off(o);
  for (std::uint32_t c = 0; c < 20; ++c) off.add_client(c);
  std::vector<link_state> ls2(20);
  for (int round = 0; round < 6; ++round) {
    for (std::uint32_t c = 0; c < 10; ++c) {
      auto ev = testing::chat_event("c" + std::to_string(c), day0, {{"user", qs[c]}}, {{"model", "gpt-4o"}, {"max_tokens", 2048}});
      ev.set_peer_address("203.0.113." + std::to_string(c + 2));
      ev.set_user_agent("Mozilla/5.0 browser " + std::to_string(c));
      off.update(ls2[c], c, h.view(ev), ts[c]);
    }
  }
  EXPECT_EQ(off.cluster_size(off.find(0)), 1u);
}

TEST(Linking, ParameterFingerprintSeesEveryScriptedSetting) {
  auto ev = testing::chat_event("c", day0, {{"user", "hi"}}, {{"model", "gpt-4o"}, {"max_tokens", 2048}});
  const std::uint64_t base = parameter_fingerprint(ev);
  EXPECT_NE(base, 0u);
  EXPECT_EQ(parameter_fingerprint(testing::chat_event("d", day0 + 5, {{"user", "something else"}},
                                             {{"model", "gpt-4o"}, {"max_tokens", 2048}})),
            base);
  EXPECT_NE(parameter_fingerprint(testing::chat_event("c", day0, {{"user", "hi"}}, {{"model", "gpt-4o"}, {"max_tokens", 2047}})), base);
  auto other_model = testing::chat_event("c", day0, {{"user", "hi"}}, {{"max_tokens", 2048}});
  other_model.set_model("gpt-4o-mini");
  EXPECT_NE(parameter_fingerprint(other_model), base);
  EXPECT_NE(parameter_fingerprint(testing::chat_event("c", day0, {{"user", "hi"}},
                                             {{"model", "gpt-4o"}, {"max_tokens", 2048}, {"temperature", 0.7}})),
            base);
  EXPECT_NE(parameter_fingerprint(testing::chat_event("c", day0, {{"user", "hi"}},
                                             {{"model", "gpt-4o"}, {"max_tokens", 2048}, {"stream", true}})),
            base);
}

TEST(Linking, AddressRanges) {
  EXPECT_EQ(address_range("203.0.113.7"), "203.0.113");
  EXPECT_EQ(address_range("203.0.113.7:5555"), "203.0.113");
  EXPECT_EQ(address_range("[2001:db8:1:2::1]:443"), "2001:db8:1");
  EXPECT_EQ(address_range("2001:db8:1:2::1"), "2001:db8:1");
  EXPECT_EQ(address_range("not an address"), "");
}

}  // namespace
}  // namespace dg::detectors
