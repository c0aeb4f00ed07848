// Fuzz target: the config loader (server/config load_config_string), the YAML
// an operator writes. A bad file must be refused with dg::config_error naming
// the file, line and key; any other exception, or a crash, is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config_node.h"
#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto cfg = dg::server::load_config_string(text, "fuzz.yaml");
    (void)dg::server::secret_path(cfg);
  } catch (const dg::config_error& e) {
    const std::string what = e.what();
    if (what.empty()) {
      std::fprintf(stderr, "FUZZ FINDING: a config error with no message\n");
      std::abort();
    }
  }
  return 0;
}
