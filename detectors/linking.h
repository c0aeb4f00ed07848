// linking: account linking for hydra swarms (many small accounts run by one
// operator). Each client offers keys: its system prompt (when long enough to
// be specific), its dominant template skeleton, its address range (/24 or
// /48) together with its user agent, and its address range together with its
// request parameters (one script sends one model, max_tokens, sampling and
// streaming settings from every account it drives, whatever agent it claims). A key a client has used `min_shared`
// times is claimed in a bounded inverted index (key -> first owner, number of
// clients); a second client claiming it is unioned with the owner in a
// union-find over client numbers (union by size, path halving). The engine
// keeps one union state per cluster and scores it on its members' traffic.
// Thread safety: none (the engine's thread).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/state_codec.h"
#include "detectors/templates.h"

namespace dg::detectors {

enum link_kind : std::uint8_t {
  link_system_prompt = 1,
  link_template = 2,
  link_address = 4,
  link_parameters = 8,
};
std::string link_kinds_text(std::uint8_t kinds);  // "system prompt, template"

// Per client: the keys it is building evidence on (Misra-Gries, 6 slots).
struct link_state {
  struct candidate {
    std::uint64_t key = 0;
    std::uint16_t count = 0;
    std::uint8_t kind = 0;
    std::uint8_t claimed = 0;
  };
  std::array<candidate, 6> candidates{};
  void save(state_writer& w) const { w.put(candidates); }
  bool load(state_reader& r) { return r.get(candidates); }
};

// The address range of a peer address: IPv4 /24 ("203.0.113"), IPv6 /48; empty if unparsable.
std::string address_range(std::string_view peer);

// A hash of the request parameters a script sets once for all its requests: route, model,
// temperature, top_p, n, max_tokens, stream, logprobs, top_logprobs, and whether it sends
// logit_bias and tools. Never 0.
std::uint64_t parameter_fingerprint(const pb::QueryEvent& ev);

class account_linker {
 public:
  // Called after two clusters merged: (surviving root, absorbed root).
  using merge_callback = std::function<void(std::uint32_t, std::uint32_t)>;

  explicit account_linker(const linking_options& o) : o_(o) {}
  void set_merge_callback(merge_callback cb) { on_merge_ = std::move(cb); }

  // Registers client number `idx` (numbers are dense, from 0).
  void add_client(std::uint32_t idx);
  // Folds the keys of one event of client `idx`.
  void update(link_state& s, std::uint32_t idx, const event_view& e, const templates_state& t);

  std::uint32_t find(std::uint32_t idx);
  std::uint32_t find_const(std::uint32_t idx) const;
  std::uint32_t cluster_size(std::uint32_t root) const { return size_[root]; }
  std::uint8_t cluster_links(std::uint32_t root) const { return links_[root]; }
  std::size_t index_size() const { return index_.size(); }
  std::uint64_t index_full_drops() const { return index_drops_; }
  std::size_t memory_bytes() const;

 private:
  struct key_entry {
    std::uint32_t owner = 0;
    std::uint32_t clients = 0;
  };
  void offer(link_state& s, std::uint32_t idx, std::uint64_t key, std::uint8_t kind);
  void claim(std::uint32_t idx, std::uint64_t key, std::uint8_t kind);
  void unite(std::uint32_t a, std::uint32_t b, std::uint8_t kind);

  linking_options o_;
  merge_callback on_merge_;
  std::vector<std::uint32_t> parent_, size_;
  std::vector<std::uint8_t> links_;
  std::unordered_map<std::uint64_t, key_entry> index_;
  std::uint64_t index_drops_ = 0;
};

}  // namespace dg::detectors
