// Which config changes a live reload may apply, and the errors of a bad file.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "server/config_reload.h"

namespace dg::server {
namespace {

TEST(ConfigReload, RestartOnlyKeys) {
  for (const char* k : {"listen", "threads", "state_dir", "admin.listen", "admin.token_file", "tls.cert_file",
                        "upstream.url", "upstream.pool_size", "identity.secret_file", "storage.path",
                        "detectors.seed", "detectors.queue_capacity", "detectors.linking.min_shared"}) {
    EXPECT_TRUE(restart_only_key(k)) << k;
  }
  for (const char* k : {"upstream.response_timeout_ms", "limits.max_body_bytes", "identity.trusted_proxies",
                        "identity.header", "log.level", "shutdown.drain_ms", "policy.mode",
                        "policy.deny_clients", "policy.thresholds.block", "detectors.extraction.weight",
                        "detectors.linking.weight", "detectors.max_clients", "policy.watermark.current_key.id"}) {
    EXPECT_FALSE(restart_only_key(k)) << k;
  }
}

TEST(ConfigReload, ChangesNamedByKey) {
  const gateway_config a = load_config_string("listen: 127.0.0.1:8080\npolicy: {mode: shadow}\n", "a.yaml");
  // Only live keys changed; a default written out is no change.
  const gateway_config b = load_config_string(
      "listen: 127.0.0.1:8080\nthreads: 0\npolicy: {mode: enforce, deny_clients: [abc]}\n"
      "limits: {max_body_bytes: 1000}\nlog: {level: debug}\n",
      "b.yaml");
  EXPECT_TRUE(restart_only_changes(a, b).empty());
  const gateway_config c = load_config_string(
      "listen: 127.0.0.1:8081\nstorage: {path: /tmp/elsewhere}\nupstream: {url: 'http://127.0.0.1:9'}\n"
      "detectors: {linking: {min_shared: 9}}\n",
      "c.yaml");
  EXPECT_EQ(restart_only_changes(a, c),
            (std::vector<std::string>{"detectors.linking.min_shared", "listen", "storage.path", "upstream.url"}));
}

TEST(ConfigReload, BadFileGivesFileLineColumn) {
  const std::string path = ::testing::TempDir() + "/dg_reload_bad.yaml";
  {
    std::ofstream f(path);
    f << "policy:\n  mode: sideways\n";
  }
  gateway_config out;
  std::vector<std::string> errors;
  EXPECT_FALSE(load_config_for_reload(path, out, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(path + ":2:", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find("policy.mode"), std::string::npos) << errors[0];

  {
    std::ofstream f(path);
    f << "policy: {mode: [\n";
  }
  errors.clear();
  EXPECT_FALSE(load_config_for_reload(path, out, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].rfind(path + ":", 0), 0u) << errors[0];

  errors.clear();
  EXPECT_FALSE(load_config_for_reload(path + ".missing", out, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot open"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dg::server
