#include "detectors/detector_options.h"

#include <memory>

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
