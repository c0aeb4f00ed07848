#include "server/ops_metrics.h"

#include <prometheus/text_serializer.h>

#include <gtest/gtest.h>

namespace dg::server {
namespace {

std::string scrape(prometheus::Registry& r) {
  return prometheus::TextSerializer().Serialize(r.Collect());
}

TEST(ops_metrics, build_info_and_reload_series_exist_from_the_start) {
  prometheus::Registry reg;
  manual_clock clock{1'793'577'600'000'000};
  ops_metrics m(reg, clock);
  const std::string text = scrape(reg);
  EXPECT_NE(text.find("distillguard_build_info{version=\"0.1.0\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("distillguard_config_reloads_total{result=\"ok\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("distillguard_config_reloads_total{result=\"error\"} 0"), std::string::npos);
  EXPECT_NE(text.find("distillguard_config_last_reload_successful 1"), std::string::npos);
}

TEST(ops_metrics, counted_reload_counts_by_result) {
  prometheus::Registry reg;
  manual_clock clock{1'793'577'600'000'000};
  ops_metrics m(reg, clock);
  bool ok = true;
  auto reload = m.counted([&] { return reload_result{ok, ok ? std::vector<std::string>{}
                                                            : std::vector<std::string>{"bad"}}; });
  EXPECT_TRUE(reload().ok);
  ok = false;
  EXPECT_FALSE(reload().ok);
  EXPECT_FALSE(reload().ok);
  const std::string text = scrape(reg);
  EXPECT_NE(text.find("distillguard_config_reloads_total{result=\"ok\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("distillguard_config_reloads_total{result=\"error\"} 2"), std::string::npos);
  EXPECT_NE(text.find("distillguard_config_last_reload_successful 0"), std::string::npos);
}

}  // namespace
}  // namespace dg::server
