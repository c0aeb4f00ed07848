#include "detectors/detector_options.h"

#include <functional>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

namespace dg::detectors {
namespace {

TEST(DetectorOptions, ShippedConfigBlockReadsCleanly) {
  auto errors = std::make_shared<config_errors>();
  auto root = config_node::load_file(DG_SOURCE_DIR "/deploy/distillguard.yaml", errors);
  auto node = root.child("detectors");
  detector_options o;
  read_detector_options(node, o);
  EXPECT_TRUE(errors->empty()) << errors->joined();
  detector_options d;
  EXPECT_EQ(o.seed, d.seed);  // the documented values are the defaults
  EXPECT_EQ(o.scoring.method, d.scoring.method);
  EXPECT_EQ(o.volume.min_events, d.volume.min_events);
  EXPECT_DOUBLE_EQ(o.reasoning.weight, d.reasoning.weight);
  EXPECT_EQ(o.linking.max_key_clients, d.linking.max_key_clients);
}

TEST(DetectorOptions, JsonShowsEveryDocumentedKey) {
  std::set<std::string> documented, shown;
  std::function<void(const YAML::Node&, const std::string&)> flat_yaml = [&](const YAML::Node& n, const std::string& p) {
    for (const auto& kv : n) {
      std::string k = p.empty() ? kv.first.as<std::string>() : p + "." + kv.first.as<std::string>();
      if (kv.second.IsMap()) flat_yaml(kv.second, k);
      else documented.insert(k);
    }
  };
  flat_yaml(YAML::LoadFile(DG_SOURCE_DIR "/deploy/distillguard.yaml")["detectors"], "");
  std::function<void(const nlohmann::json&, const std::string&)> flat_json = [&](const nlohmann::json& j, const std::string& p) {
    for (const auto& [k, v] : j.items()) {
      std::string key = p.empty() ? k : p + "." + k;
      if (v.is_object()) flat_json(v, key);
      else shown.insert(key);
    }
  };
  flat_json(detector_options_json(detector_options{}), "");
  EXPECT_EQ(documented, shown);
}

TEST(DetectorOptions, RejectsBadValuesAndUnknownKeys) {
  auto errors = std::make_shared<config_errors>();
  auto root = config_node::load_string(R"(
detectors:
  scoring: {method: median, watermark_at: 0.9, throttle_at: 0.5}
  volume: {weight: 2, z_start: 5, z_full: 4}
  cadence: {nonsense: 1}
)", "test.yaml", errors);
  auto node = root.child("detectors");
  detector_options o;
  read_detector_options(node, o);
  const std::string all = errors->joined();
  EXPECT_NE(all.find("method"), std::string::npos) << all;
  EXPECT_NE(all.find("block_at"), std::string::npos) << all;
  EXPECT_NE(all.find("weight"), std::string::npos) << all;
  EXPECT_NE(all.find("z_full"), std::string::npos) << all;
  EXPECT_NE(all.find("nonsense"), std::string::npos) << all;
}

}  // namespace
}  // namespace dg::detectors
