// policy_options: the `policy:` block of the config.
#pragma once

#include <string>

#include "common/config_node.h"

namespace dg::enforcement {

struct policy_options {
  // enforce: act on verdicts. shadow: decide, record and count, enforce nothing.
  std::string mode = "enforce";
};

void read_policy_options(config_node& node, policy_options& out);

}  // namespace dg::enforcement
