// watermark_synonyms: the synonym groups the watermark chooses among, from the
// table generated from WordNet 3.0 by tools/make_synonyms.py (WordNet 3.0
// Copyright 2006 by Princeton University; WordNet 3.0 licence, see
// data/distillguard-synonyms.tsv). The table is compiled into the binary; a
// config may point at another file (watermark.synonyms_file).
//
// Thread safety: immutable after load; share it freely.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace dg::enforcement {

class synonym_table {
 public:
  // A group whose words also have another part of speech ("the need", "to
  // need") is only used after a word that fixes the part of speech: its cue.
  enum class cue : std::uint8_t { none, verb, verb_s, verb_ed, verb_ing, noun, adjective };

  struct hit {
    std::uint32_t group = 0;
    std::uint8_t member = 0;
    cue needs = cue::none;
  };

  // Whether `prev` (lower case) is a cue of the kind `c`.
  static bool cued(cue c, std::string_view prev);

  // Parses the TSV format (POS[!]<TAB>word,word[,...]; '#' comments; a '!'
  // after the part of speech marks a group that needs its cue). A word in
  // two groups, a group of fewer than two words or a non-lower-case word is
  // corruption.
  static status parse(std::string_view text, synonym_table& out);
  static status load_file(const std::string& path, synonym_table& out);
  // The table compiled into the binary.
  static std::shared_ptr<const synonym_table> builtin();

  // `lower` must be lower case ASCII letters.
  const hit* find(std::string_view lower) const {
    if (lower.size() < min_len_ || lower.size() > max_len_) return nullptr;
    // Most words of a text are in no group: a bitmap of (first letter, second
    // letter, length) turns them away before the hash lookup.
    const std::size_t b = prefilter_index(lower);
    if ((prefilter_[b >> 6] >> (b & 63) & 1) == 0) return nullptr;
    auto it = words_.find(lower);
    return it == words_.end() ? nullptr : &it->second;
  }
  const std::vector<std::string>& group(std::uint32_t g) const { return groups_[g]; }
  // A stable seed per group (from its words), so adding groups moves no key.
  std::uint64_t group_seed(std::uint32_t g) const { return seeds_[g]; }
  // Members start with a vowel and a consonant both: unusable after "a"/"an".
  bool mixed_article(std::uint32_t g) const { return mixed_[g] != 0; }
  std::size_t groups() const { return groups_.size(); }
  std::size_t words() const { return words_.size(); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::vector<std::string>> groups_;
  std::vector<std::uint64_t> seeds_;
  std::vector<std::uint8_t> mixed_;
  static std::size_t prefilter_index(std::string_view w) {  // REQUIRES: w.size() >= 2, a-z
    return (static_cast<std::size_t>(w[0] - 'a') * 26 + static_cast<std::size_t>(w[1] - 'a')) * 32 +
           std::min<std::size_t>(w.size(), 31);
  }
  std::vector<std::uint64_t> prefilter_ = std::vector<std::uint64_t>(26 * 26 * 32 / 64 + 1, 0);
  std::unordered_map<std::string, hit, string_hash, std::equal_to<>> words_;
  std::size_t min_len_ = SIZE_MAX, max_len_ = 0;
};

// The default file locations tried when watermark.synonyms_file is empty
// (the table compiled in is used when none exists).
std::vector<std::string> default_synonym_paths();

}  // namespace dg::enforcement
