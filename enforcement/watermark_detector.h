// watermark_detector: tells, for a suspect text, which client's watermark it
// carries. For each candidate (client id x key) it checks every eligible
// position (whether or not the marker changed the word there): a match is a
// word that is the one the client's key prefers after the previous word.
// Without that key's mark a match happens with probability 1/k at a position
// whose group has k members, independently (the keyed choice is a PRF of the
// context). The score is the log-likelihood ratio of the matches, log k per
// match (a match in a group of 4 says twice what one in a pair says), in
// integer units of half a bit; its exact null distribution (a weighted
// Poisson-binomial law, by convolution) gives the p-value. Positions are
// counted once per (previous word, group) context, so a repeated phrase does
// not count twice. The p-values are Bonferroni-corrected for the number of
// candidates tested.
//
// Thread safety: immutable after construction; detect() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "enforcement/watermark_key.h"
#include "enforcement/watermark_synonyms.h"

namespace dg::enforcement {

struct mark_position {
  std::string prev;
  std::uint32_t group = 0;
  std::uint8_t observed = 0;
};

// The eligible positions of `text`, first occurrence of each context only. A
// JSON/XML-looking text is read too (word_scanner::read_json_looking), so that
// a '{' at its head does not hide the rest.
std::vector<mark_position> collect_positions(const synonym_table& table, std::string_view text,
                                             std::uint64_t* words = nullptr);

struct client_score {
  std::string client_id;
  std::uint32_t key_id = 0;
  std::size_t positions = 0;
  std::size_t matches = 0;
  double expected = 0;     // matches expected without the mark
  std::uint32_t score = 0;       // sum of the matches' weights (half bits)
  double expected_score = 0;     // without the mark
  double z = 0;
  double p_value = 1;      // one test
  double p_corrected = 1;  // Bonferroni over every candidate tested
};

struct detection_report {
  std::uint64_t words = 0;
  std::size_t positions = 0;
  std::size_t tests = 0;               // candidates (clients x keys)
  std::vector<client_score> top;       // smallest p first
  bool found = false;                  // top[0].p_corrected < alpha
  double alpha = 1e-6;
};

class watermark_detector {
 public:
  // keys: (key id, secret) of the current and every previous watermark key.
  watermark_detector(std::shared_ptr<const synonym_table> table,
                     std::vector<std::pair<std::uint32_t, std::string>> keys);

  detection_report detect(std::string_view text, const std::vector<std::string>& client_ids,
                          double alpha = 1e-6, std::size_t top = 10) const;

 private:
  std::shared_ptr<const synonym_table> table_;
  std::vector<std::pair<std::uint32_t, std::string>> keys_;
};

// P(X >= k) for X the number of successes of independent trials with probabilities p.
std::vector<double> poisson_binomial_upper_tail(const std::vector<double>& p);
// P(S >= s) for S the sum of the weights w[i] of the trials that succeed.
std::vector<double> weighted_upper_tail(const std::vector<double>& p, const std::vector<std::uint32_t>& w);
// The weight of a match in a group of k members: round(2 log2 k), half bits.
std::uint32_t match_weight(std::size_t k);

}  // namespace dg::enforcement
