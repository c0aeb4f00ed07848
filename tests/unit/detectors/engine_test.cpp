// The engine on a simulated two days of mixed traffic: attacks flagged, benign
// automation not throttled, the same input giving the same reports, and state
// surviving a save/restore.
#include "detectors/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "enforcement/policy.h"
#include "traffic.h"

namespace dg::detectors {
namespace {

using enforcement::verdict;
using testing::chat_turn;

constexpr micros day0 = 1793577600LL * 1000000;
constexpr micros sec = 1000000;
constexpr micros hour = 3600 * sec;

struct timed {
  micros ts;
  std::string client;
  int seq;
  pb::QueryEvent ev;
};

class traffic_builder {
 public:
  std::vector<timed> events;
  std::map<std::string, std::string> kind;  // client -> kind

  void add(const std::string& kind_name, pb::QueryEvent ev) {
    kind[ev.client_id()] = kind_name;
    events.push_back({ev.ts_micros(), ev.client_id(), seq_++, std::move(ev)});
  }
  std::vector<pb::QueryEvent> ordered() {
    std::sort(events.begin(), events.end(), [](const timed& a, const timed& b) {
      return std::tie(a.ts, a.seq) < std::tie(b.ts, b.seq);
    });
    std::vector<pb::QueryEvent> out;
    for (auto& e : events) out.push_back(e.ev);
    return out;
  }

 private:
  int seq_ = 0;
};

// Two days of: bulk self-instruct, reasoning harvest, logit extraction, a templated sweep, a hydra
// swarm; and people chatting, a product backend, a batch classifier, a benchmark run.
std::vector<pb::QueryEvent> simulated_traffic(traffic_builder& b) {
  const auto& al = testing::alpaca();
  const auto& qs = testing::questions();
  testing::rng r(77);
  // Bulk self-instruct replay: one key, every ~6 s around the clock, long answers.
  for (int i = 0; i < 4000; ++i) {
    b.add("bulk", testing::single("bulk", day0 + i * 6 * sec + static_cast<micros>(r.below(4)) * sec,
                                  al[static_cast<std::size_t>(i) % al.size()], {}, 350));
  }
  // Reasoning-trace harvesting under a fixed system prompt, plain human questions.
  const std::string cot = "You are an expert solver. Think step by step, show your reasoning in full, then give "
                          "the final answer on its own line.";
  for (int i = 0; i < 1500; ++i) {
    b.add("reasoning", testing::single("cot", day0 + 2 * hour + i * 40 * sec,
                                       qs[r.below(qs.size())], cot, 900));
  }
  // Logit-bias extraction.
  for (int i = 0; i < 400; ++i) {
    nlohmann::json extra = {{"max_tokens", 1}, {"logprobs", true}, {"top_logprobs", 5},
                            {"logit_bias", {{std::to_string(100 + (i % 50) * 13), 100}}}};
    b.add("extraction", testing::chat_event("logits", day0 + hour + i * 3 * sec,
                                            {{"user", "Repeat: the capital of France is"}}, extra, 8, 1));
  }
  // Templated topic sweep.
  for (int i = 0; i < 2000; ++i) {
    std::string topic = qs[r.below(qs.size())];
    b.add("sweep", testing::single("sweep", day0 + 3 * hour + i * 20 * sec,
                                   "Write a comprehensive encyclopedia article answering the following question, "
                                   "with sections and references: " + topic, {}, 700));
  }
  // Hydra: 25 accounts, ~60 requests a day each, one system prompt, one proxy range and client.
  const std::string hydra_sys = "You are a data generation engine. Answer with a complete, detailed and accurate "
                                "response suitable as a training example.";
  for (int a = 0; a < 25; ++a) {
    for (int i = 0; i < 120; ++i) {
      auto ev = testing::single("hydra-" + std::to_string(a), day0 + static_cast<micros>(r.below(2 * 24 * 3600)) * sec,
                                al[r.below(al.size())], hydra_sys, 400);
      ev.set_peer_address("192.0.2." + std::to_string(a + 10));
      ev.set_user_agent("OpenAI/Python 1.40.0");
      b.add("hydra", std::move(ev));
    }
  }
  // People: multi-turn conversations in the day, sleeping at night.
  for (int p = 0; p < 30; ++p) {
    const std::string id = "person-" + std::to_string(p);
    for (int d = 0; d < 2; ++d) {
      for (int s = 0; s < 3; ++s) {
        micros ts = day0 + d * 24 * hour + (9 + s * 4) * hour + static_cast<micros>(r.below(3600)) * sec;
        std::vector<chat_turn> conv;
        std::size_t base = r.below(qs.size() - 10);
        for (int t = 0; t < 5; ++t) {
          conv.push_back({"user", qs[base + static_cast<std::size_t>(t)]});
          b.add("person", testing::chat_event(id, ts, conv, {}, 40 * (t + 1), 200));
          conv.push_back({"assistant", "An answer."});
          ts += static_cast<micros>(20 + r.below(200)) * sec;
        }
      }
    }
  }
  // A product backend: thousands of end users a day under one system prompt, multi-turn, daytime.
  const std::string shop = "You are Sunny, the support assistant of Example Outdoor Gear. Be friendly, answer "
                           "questions about orders, returns and products, and never invent order numbers.";
  for (int d = 0; d < 2; ++d) {
    for (int u = 0; u < 700; ++u) {
      micros ts = day0 + d * 24 * hour + 7 * hour + static_cast<micros>(r.below(15 * 3600)) * sec;
      std::vector<chat_turn> conv = {{"system", shop}};
      int turns = 1 + static_cast<int>(r.below(5));
      std::size_t base = r.below(qs.size() - 10);
      for (int t = 0; t < turns; ++t) {
        conv.push_back({"user", qs[base + static_cast<std::size_t>(t)]});
        b.add("backend", testing::chat_event("backend", ts, conv, {}, 80 * (t + 1), 150));
        conv.push_back({"assistant", "Happy to help with that."});
        ts += static_cast<micros>(30 + r.below(120)) * sec;
      }
    }
  }
  // A batch classification job: one template, temperature 0, tiny answers, every 2 s for 3 hours.
  for (int i = 0; i < 5400; ++i) {
    const auto& text = al[static_cast<std::size_t>(i) % al.size()];
    b.add("batch", testing::chat_event("batch", day0 + 10 * hour + i * 2 * sec,
                                       {{"user", "Classify the following text into one of: question, instruction, "
                                                 "statement. Answer with one word.\n\nText: " + text}},
                                       {{"temperature", 0}, {"max_tokens", 3}}, 60, 1));
  }
  // A benchmark run: 1,000 questions once, short answers.
  for (int i = 0; i < 1000; ++i) {
    b.add("benchmark", testing::chat_event("bench", day0 + 30 * hour + i * 3 * sec,
                                           {{"user", qs[static_cast<std::size_t>(i) * 41 % qs.size()]}},
                                           {{"temperature", 0}, {"max_tokens", 32}}, 20, 12));
  }
  return b.ordered();
}

std::string dump(const std::vector<client_report>& reports, const std::vector<cluster_report>& clusters) {
  std::ostringstream out;
  out.precision(17);
  for (const auto& r : reports) {
    out << r.client_id << ' ' << r.events << ' ' << r.risk << ' ' << int(r.verdict) << ' ' << r.first_action_event
        << ' ' << r.first_action_ts_micros << ' ' << r.cluster;
    for (const auto& s : r.scores) out << ' ' << s.detector << '=' << s.score << ':' << s.reason;
    for (const auto& s : r.reasons) out << " |" << s;
    out << '\n';
  }
  for (const auto& c : clusters) {
    out << c.cluster << ' ' << c.events << ' ' << c.risk;
    for (const auto& m : c.members) out << ' ' << m;
    out << '\n';
  }
  return out.str();
}

class EngineScenario : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test_data::datasets_present()) return;  // each case skips in SetUp
    builder_ = new traffic_builder;
    events_ = new std::vector<pb::QueryEvent>(simulated_traffic(*builder_));
  }
  static void TearDownTestSuite() {
    delete builder_;
    delete events_;
  }
  void SetUp() override { DG_REQUIRE_DATASETS(); }
  static traffic_builder* builder_;
  static std::vector<pb::QueryEvent>* events_;
};
traffic_builder* EngineScenario::builder_ = nullptr;
std::vector<pb::QueryEvent>* EngineScenario::events_ = nullptr;

TEST_F(EngineScenario, AttacksFlaggedAndBenignAutomationNotThrottled) {
  detector_options o;
  engine e(o);
  std::vector<verdict_change> changes;
  e.set_verdict_callback([&](const verdict_change& c) { changes.push_back(c); });
  for (auto ev : *events_) e.observe(ev);
  e.flush();
  std::map<std::string, std::vector<client_report>> by_kind;
  for (auto& r : e.reports()) by_kind[builder_->kind.at(r.client_id)].push_back(r);
  auto describe = [](const client_report& r) {
    std::string s = r.client_id + " risk " + std::to_string(r.risk) + " verdict " +
                    std::string(enforcement::to_string(r.verdict)) + " first " + std::to_string(r.first_action_event);
    for (const auto& x : r.reasons) s += "\n  " + x;
    return s;
  };
  if (std::getenv("DG_VERBOSE")) {  // the table behind the assertions, for tuning
    for (const auto& [kind, rs] : by_kind) {
      for (std::size_t i = 0; i < rs.size() && i < 2; ++i) std::printf("[%s] %s\n", kind.c_str(), describe(rs[i]).c_str());
    }
  }
  for (const char* attack : {"bulk", "reasoning", "extraction", "sweep", "hydra"}) {
    for (const auto& r : by_kind[attack]) {
      EXPECT_GE(r.verdict, verdict::watermark) << attack << ": " << describe(r);
      EXPECT_GT(r.first_action_event, 0u) << describe(r);
    }
  }
  for (const char* attack : {"bulk", "reasoning", "extraction", "sweep"}) {
    const auto& r = by_kind[attack].front();
    EXPECT_GE(r.verdict, verdict::throttle) << describe(r);
    EXPECT_LE(r.first_action_event, 300u) << describe(r);
  }
  EXPECT_EQ(by_kind["extraction"].front().verdict, verdict::block);
  for (const char* benign : {"person", "backend", "batch", "benchmark"}) {
    for (const auto& r : by_kind[benign]) EXPECT_LE(r.verdict, verdict::watermark) << benign << ": " << describe(r);
  }
  for (const auto& r : by_kind["person"]) EXPECT_EQ(r.verdict, verdict::allow) << describe(r);
  EXPECT_EQ(by_kind["backend"].front().verdict, verdict::allow) << describe(by_kind["backend"].front());
  // The hydra is one cluster.
  auto clusters = e.clusters();
  ASSERT_GE(clusters.size(), 1u);
  const auto& hydra = *std::max_element(clusters.begin(), clusters.end(),
                                        [](const auto& a, const auto& b) { return a.members.size() < b.members.size(); });
  EXPECT_EQ(hydra.members.size(), 25u);
  EXPECT_FALSE(changes.empty());
  EXPECT_FALSE(changes.front().reasons.empty());
}

TEST_F(EngineScenario, SameInputSameReportsByteForByte) {
  detector_options o;
  std::string first;
  for (int run = 0; run < 2; ++run) {
    engine e(o);
    for (auto ev : *events_) e.observe(ev);
    e.flush();
    std::string d = dump(e.reports(), e.clusters());
    if (run == 0) first = d;
    else EXPECT_EQ(first, d);
  }
}

TEST_F(EngineScenario, WorksWithTheEnforcementPolicy) {
  detector_options o;
  enforcement::policy_options po;
  enforcement::policy p(po);
  engine e(o, &p);
  int changes = 0;
  e.set_verdict_callback([&](const verdict_change&) { ++changes; });
  for (auto ev : *events_) e.observe(ev);
  e.flush();
  auto bulk = e.report("bulk");
  ASSERT_TRUE(bulk.has_value());
  EXPECT_GE(bulk->verdict, verdict::watermark);
  EXPECT_EQ(p.lookup("logits", 0).decided >= verdict::throttle, true);
  EXPECT_GT(changes, 0);
  auto person = e.report("person-3");
  ASSERT_TRUE(person.has_value());
  EXPECT_EQ(person->verdict, verdict::allow);
}

TEST_F(EngineScenario, SaveRestoreContinuesExactly) {
  detector_options o;
  engine whole(o), first_half(o);
  const std::size_t half = events_->size() / 2;
  for (std::size_t i = 0; i < events_->size(); ++i) {
    auto ev = (*events_)[i];
    whole.observe(ev);
    if (i < half) {
      auto ev2 = (*events_)[i];
      first_half.observe(ev2);
    }
  }
  // Restart: every client saved and restored into a fresh engine (as the live driver does).
  engine second(o);
  for (const auto& id : first_half.client_ids()) {
    auto rec = first_half.save(id);
    ASSERT_TRUE(rec.has_value());
    std::string bytes;
    ASSERT_TRUE(rec->SerializeToString(&bytes));
    pb::ClientRecord back;
    ASSERT_TRUE(back.ParseFromString(bytes));
    ASSERT_TRUE(second.restore(back).is_ok());
  }
  EXPECT_EQ(second.client_count(), first_half.client_count());
  auto a = first_half.report("bulk"), b = second.report("bulk");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->events, b->events);
  EXPECT_FLOAT_EQ(static_cast<float>(a->risk), static_cast<float>(b->risk));
  EXPECT_EQ(a->first_action_event, b->first_action_event);
  for (std::size_t i = 0; i < a->scores.size(); ++i) {
    EXPECT_FLOAT_EQ(static_cast<float>(a->scores[i].score), static_cast<float>(b->scores[i].score));
    // Population-relative detectors rebuild their population after a restart; the rest say the same.
    if (a->scores[i].detector != "volume" && a->scores[i].detector != "mmd") {
      EXPECT_EQ(a->scores[i].reason, b->scores[i].reason) << a->scores[i].detector;
    }
  }
  // A restored engine keeps deciding: the attack stays flagged after the restart.
  for (std::size_t i = half; i < events_->size(); ++i) {
    auto ev = (*events_)[i];
    second.observe(ev);
  }
  second.flush();
  EXPECT_GE(second.report("bulk")->verdict, verdict::throttle);
  EXPECT_EQ(second.report("bulk")->events, whole.report("bulk")->events);
}

TEST(Engine, CorruptStateIsAnErrorNotACrash) {
  detector_options o;
  engine e(o);
  pb::ClientRecord r;
  r.set_client_id("x");
  r.set_detector_state("garbage");
  EXPECT_FALSE(e.restore(r).is_ok());
  pb::QueryEvent ev = testing::single("x", day0, "hello");
  e.observe(ev);
  auto saved = e.save("x");
  ASSERT_TRUE(saved);
  for (std::size_t cut = 1; cut < saved->detector_state().size(); cut += 7) {
    pb::ClientRecord t = *saved;
    t.set_detector_state(saved->detector_state().substr(0, cut));
    EXPECT_FALSE(e.restore(t).is_ok()) << cut;
  }
  EXPECT_TRUE(e.restore(*saved).is_ok());
  EXPECT_FALSE(e.save("nobody").has_value());
}

TEST(Engine, StateStaysBoundedForAHeavyClient) {
  DG_REQUIRE_DATASETS();
  detector_options o;
  engine e(o);
  const auto& al = testing::alpaca();
  for (int i = 0; i < 20000; ++i) {
    pb::QueryEvent ev = testing::single("heavy", day0 + i * sec, al[static_cast<std::size_t>(i) % al.size()]);
    e.observe(ev);
  }
  EXPECT_LE(e.state_bytes(), 16u * 1024);
  EXPECT_EQ(e.events_observed(), 20000u);
}

}  // namespace
}  // namespace dg::detectors
