#include "enforcement/policy_options.h"

namespace dg::enforcement {

void read_policy_options(config_node& node, policy_options& out) {
  node.read_choice("mode", out.mode, {"enforce", "shadow"});
  node.finish();
}

}  // namespace dg::enforcement
