#include "enforcement/watermark_detector.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "enforcement/watermark_text.h"

namespace dg::enforcement {

std::vector<mark_position> collect_positions(const synonym_table& table, std::string_view text,
                                             std::uint64_t* words) {
  std::vector<mark_position> out;
  std::unordered_set<std::string> seen;
  word_scanner scanner(table);
  scanner.read_json_looking();
  scanner.last_piece();
  std::string sink;
  scanner.scan(text, sink, [&](std::string_view prev, const synonym_table::hit& h, std::string_view) {
    std::string ctx(prev);
    ctx.push_back('\x1f');
    ctx.append(std::to_string(h.group));
    if (seen.insert(std::move(ctx)).second) out.push_back({std::string(prev), h.group, h.member});
    return static_cast<std::uint32_t>(h.member);  // leaves the text as it is
  });
  if (words) *words = scanner.words();
  return out;
}

std::vector<double> poisson_binomial_upper_tail(const std::vector<double>& p) {
  const std::size_t n = p.size();
  std::vector<double> dist(n + 1, 0.0);
  dist[0] = 1.0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = i + 1; k > 0; --k) dist[k] = dist[k] * (1 - p[i]) + dist[k - 1] * p[i];
    dist[0] *= 1 - p[i];
  }
  std::vector<double> tail(n + 2, 0.0);
  for (std::size_t k = n + 1; k-- > 0;) tail[k] = tail[k + 1] + dist[k];
  for (auto& t : tail) t = std::min(1.0, t);
  tail.pop_back();
  return tail;
}

std::vector<double> weighted_upper_tail(const std::vector<double>& p, const std::vector<std::uint32_t>& w) {
  std::size_t total = 0;
  for (auto x : w) total += x;
  std::vector<double> dist(total + 1, 0.0);
  dist[0] = 1.0;
  std::size_t reach = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const std::size_t wi = w[i];
    reach += wi;
    for (std::size_t s = reach + 1; s-- > 0;) {
      const double from = s >= wi ? dist[s - wi] : 0.0;
      dist[s] = dist[s] * (1 - p[i]) + from * p[i];
    }
  }
  std::vector<double> tail(total + 2, 0.0);
  for (std::size_t s = total + 1; s-- > 0;) tail[s] = tail[s + 1] + dist[s];
  for (auto& t : tail) t = std::min(1.0, t);
  tail.pop_back();
  return tail;
}

std::uint32_t match_weight(std::size_t k) {
  return static_cast<std::uint32_t>(std::lround(2.0 * std::log2(static_cast<double>(std::max<std::size_t>(k, 2)))));
}

watermark_detector::watermark_detector(std::shared_ptr<const synonym_table> table,
                                       std::vector<std::pair<std::uint32_t, std::string>> keys)
    : table_(std::move(table)), keys_(std::move(keys)) {}

detection_report watermark_detector::detect(std::string_view text,
                                            const std::vector<std::string>& client_ids, double alpha,
                                            std::size_t top) const {
  detection_report rep;
  rep.alpha = alpha;
  const auto positions = collect_positions(*table_, text, &rep.words);
  rep.positions = positions.size();
  rep.tests = client_ids.size() * keys_.size();

  std::vector<double> p;
  std::vector<std::uint32_t> w;
  p.reserve(positions.size());
  w.reserve(positions.size());
  double expected = 0, expected_score = 0, var = 0;
  std::vector<std::uint64_t> seeds;
  std::vector<std::uint32_t> sizes;
  for (const auto& pos : positions) {
    const std::size_t k = table_->group(pos.group).size();
    const double q = 1.0 / static_cast<double>(k);
    const std::uint32_t wi = match_weight(k);
    p.push_back(q);
    w.push_back(wi);
    expected += q;
    expected_score += q * wi;
    var += q * (1 - q) * wi * wi;
    seeds.push_back(table_->group_seed(pos.group));
    sizes.push_back(static_cast<std::uint32_t>(k));
  }
  const auto tail = weighted_upper_tail(p, w);

  std::vector<client_score> all;
  all.reserve(rep.tests);
  for (const auto& [key_id, secret] : keys_) {
    for (const auto& id : client_ids) {
      const mark_key k = derive_mark_key(secret, id, key_id);
      std::size_t matches = 0;
      std::uint32_t score = 0;
      for (std::size_t i = 0; i < positions.size(); ++i)
        if (preferred_member(k, positions[i].prev, seeds[i], sizes[i]) == positions[i].observed) {
          ++matches;
          score += w[i];
        }
      client_score s;
      s.client_id = id;
      s.key_id = key_id;
      s.positions = positions.size();
      s.matches = matches;
      s.expected = expected;
      s.score = score;
      s.expected_score = expected_score;
      s.z = var > 0 ? (static_cast<double>(score) - expected_score) / std::sqrt(var) : 0;
      s.p_value = tail[score];
      s.p_corrected = std::min(1.0, s.p_value * static_cast<double>(std::max<std::size_t>(1, rep.tests)));
      all.push_back(std::move(s));
    }
  }
  const std::size_t keep = std::min(top, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                    [](const client_score& a, const client_score& b) {
                      if (a.p_value != b.p_value) return a.p_value < b.p_value;
                      return a.z > b.z;
                    });
  all.resize(keep);
  rep.top = std::move(all);
  rep.found = !rep.top.empty() && rep.top[0].p_corrected < alpha;
  return rep;
}

}  // namespace dg::enforcement
