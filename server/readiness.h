// readiness: what /readyz reports. Parts of the gateway register a check (the
// store, the analyzer, ...) that returns an empty string when healthy, or
// what is degraded. Thread safe.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace dg::server {

class readiness {
 public:
  using check = std::function<std::string()>;  // "" = ready, else what is wrong

  void add(std::string name, check c) {
    std::lock_guard lock(mu_);
    checks_.emplace_back(std::move(name), std::move(c));
  }

  // Every failing check as (name, reason); empty when ready.
  std::vector<std::pair<std::string, std::string>> degraded() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::lock_guard lock(mu_);
    for (const auto& [name, c] : checks_) {
      std::string why = c();
      if (!why.empty()) out.emplace_back(name, std::move(why));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, check>> checks_;
};

}  // namespace dg::server
