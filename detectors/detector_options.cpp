#include "detectors/detector_options.h"

namespace dg::detectors {

void read_detector_options(config_node& node, detector_options& out) {
  node.read("queue_capacity", out.queue_capacity, 16, 1u << 24);
  node.finish();
}

}  // namespace dg::detectors
