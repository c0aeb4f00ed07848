#include "detectors/linking.h"

#include <algorithm>

#include "detectors/text_normalise.h"

namespace dg::detectors {

std::string link_kinds_text(std::uint8_t kinds) {
  std::string out;
  auto add = [&](const char* s) {
    if (!out.empty()) out += ", ";
    out += s;
  };
  if (kinds & link_system_prompt) add("system prompt");
  if (kinds & link_template) add("template");
  if (kinds & link_address) add("address range and user agent");
  if (kinds & link_parameters) add("address range and request parameters");
  return out;
}

std::uint64_t parameter_fingerprint(const pb::QueryEvent& ev) {
  std::uint64_t h = word_hash(ev.route(), 0x706172616d73ULL) ^ mix64(word_hash(ev.model(), 0x6d6f64656cULL));
  auto add = [&h](std::uint64_t v) { h = mix64(h ^ (v + 0x9e3779b97f4a7c15ULL)); };
  auto real = [](double d) {  // to 1/1000: 0.7 and 0.70000001 are one setting
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(d * 1000 + (d < 0 ? -0.5 : 0.5)));
  };
  add(ev.has_temperature() ? 1 + real(ev.temperature()) : 0);
  add(ev.has_top_p() ? 1 + real(ev.top_p()) : 0);
  add(ev.has_n() ? 1 + static_cast<std::uint64_t>(ev.n()) : 0);
  add(ev.has_max_tokens() ? 1 + static_cast<std::uint64_t>(ev.max_tokens()) : 0);
  add(ev.has_top_logprobs() ? 1 + static_cast<std::uint64_t>(ev.top_logprobs()) : 0);
  add((ev.stream() ? 1u : 0u) | (ev.logprobs() ? 2u : 0u) | (ev.logit_bias_count() > 0 ? 4u : 0u) |
      (ev.tools_count() > 0 ? 8u : 0u));
  return h | 1u;
}

std::string address_range(std::string_view peer) {
  // Strip a port: "1.2.3.4:5678", "[::1]:80".
  if (!peer.empty() && peer.front() == '[') {
    auto close = peer.find(']');
    if (close == std::string_view::npos) return {};
    peer = peer.substr(1, close - 1);
  } else if (std::count(peer.begin(), peer.end(), ':') == 1) {
    peer = peer.substr(0, peer.find(':'));
  }
  if (peer.find(':') != std::string_view::npos) {  // IPv6: the first three groups (/48)
    std::size_t pos = 0;
    for (int g = 0; g < 3; ++g) {
      pos = peer.find(':', pos);
      if (pos == std::string_view::npos) return std::string(peer);  // "::"-shortened: keep whole
      ++pos;
    }
    return std::string(peer.substr(0, pos - 1));
  }
  auto last = peer.rfind('.');
  if (last == std::string_view::npos || std::count(peer.begin(), peer.end(), '.') != 3) return {};
  return std::string(peer.substr(0, last));
}

void account_linker::add_client(std::uint32_t idx) {
  if (idx >= parent_.size()) {
    std::size_t n = idx + 1;
    std::size_t old = parent_.size();
    parent_.resize(n);
    size_.resize(n, 1);
    links_.resize(n, 0);
    for (std::size_t i = old; i < n; ++i) parent_[i] = static_cast<std::uint32_t>(i);
  }
}

std::uint32_t account_linker::find(std::uint32_t x) {
  while (parent_[x] != x) {
    parent_[x] = parent_[parent_[x]];  // path halving
    x = parent_[x];
  }
  return x;
}

std::uint32_t account_linker::find_const(std::uint32_t x) const {
  while (parent_[x] != x) x = parent_[x];
  return x;
}

void account_linker::unite(std::uint32_t a, std::uint32_t b, std::uint8_t kind) {
  a = find(a);
  b = find(b);
  if (a == b) {
    links_[a] |= kind;
    return;
  }
  // Union by size; ties go to the older (smaller) number, so the result depends only on the input.
  if (size_[a] < size_[b] || (size_[a] == size_[b] && b < a)) std::swap(a, b);
  parent_[b] = a;
  size_[a] += size_[b];
  links_[a] |= links_[b] | kind;
  if (on_merge_) on_merge_(a, b);
}

void account_linker::claim(std::uint32_t idx, std::uint64_t key, std::uint8_t kind) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (index_.size() >= o_.index_capacity) {
      ++index_drops_;
      return;
    }
    index_.emplace(key, key_entry{idx, 1});
    return;
  }
  if (it->second.clients >= o_.max_key_clients) return;  // too common to mean anything
  ++it->second.clients;
  unite(idx, it->second.owner, kind);
}

void account_linker::offer(link_state& s, std::uint32_t idx, std::uint64_t key, std::uint8_t kind) {
  key = mix64(key ^ (static_cast<std::uint64_t>(kind) << 56));
  for (auto& c : s.candidates) {
    if (c.key == key && c.count > 0) {
      if (c.count < 0xffff) ++c.count;
      if (!c.claimed && c.count >= o_.min_shared) {
        c.claimed = 1;
        claim(idx, key, kind);
      }
      return;
    }
  }
  // Misra-Gries: take an empty slot, else wear every slot down by one.
  for (auto& c : s.candidates) {
    if (c.count == 0) {
      c = {key, 1, kind, 0};
      if (o_.min_shared <= 1) {
        c.claimed = 1;
        claim(idx, key, kind);
      }
      return;
    }
  }
  for (auto& c : s.candidates) {
    if (!c.claimed) --c.count;  // claimed keys stay: they are the client's links
  }
}

void account_linker::update(link_state& s, std::uint32_t idx, const event_view& e, const templates_state& t) {
  if (!o_.enabled) return;
  const auto& ev = e.ev;
  if (o_.by_system_prompt && ev.system_prompt_hash() != 0 &&
      e.f.system_prompt_chars() >= o_.min_system_prompt_chars) {
    offer(s, idx, ev.system_prompt_hash(), link_system_prompt);
  }
  if (o_.by_skeleton && e.f.skeleton_hash() != 0 && e.f.skeleton_constant() >= 5) {
    // Only the client's dominant template: a person's sentences share skeletons by chance.
    const auto top = std::max_element(t.skeletons.begin(), t.skeletons.end(),
                                      [](const auto& a, const auto& b) { return a.count < b.count; });
    if (top->hash == e.f.skeleton_hash() && 2 * top->count >= t.prompts) {
      offer(s, idx, e.f.skeleton_hash(), link_template);
    }
  }
  if (o_.by_address_range && !ev.peer_address().empty()) {
    std::string key = address_range(ev.peer_address());
    const bool range_known = !key.empty();
    const std::uint64_t range_hash = range_known ? word_hash(key, 0x72616e6765ULL) : 0;
    if (range_known) {
      if (o_.by_user_agent) {
        key.push_back('\n');
        key.append(ev.user_agent());
      }
      offer(s, idx, word_hash(key, 0x6164647265737321ULL), link_address);
    }
    // The same range with the same request parameters: a swarm rotating browser agents still
    // sends what its script sets. People behind one office NAT vary model, sampling and
    // streaming, and a wrong link only pools traffic: the union is judged on what it does.
    if (o_.by_parameters && range_known) {
      offer(s, idx, mix64(range_hash ^ parameter_fingerprint(ev)), link_parameters);
    }
  }
}

std::size_t account_linker::memory_bytes() const {
  return parent_.capacity() * 4 + size_.capacity() * 4 + links_.capacity() +
         index_.size() * (sizeof(std::uint64_t) + sizeof(key_entry) + 2 * sizeof(void*)) +
         index_.bucket_count() * sizeof(void*);
}

}  // namespace dg::detectors
