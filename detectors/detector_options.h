// detector_options: the `detectors:` block of the config (and `analysis:`).
#pragma once

#include <cstdint>

#include "common/config_node.h"

namespace dg::detectors {

struct detector_options {
  // Events waiting for the analyzer thread; beyond this they are dropped and counted.
  std::uint32_t queue_capacity = 65536;
};

void read_detector_options(config_node& node, detector_options& out);

}  // namespace dg::detectors
