// GET /admin/config shows every documented key and no secret.
#include "server/admin_config_json.h"

#include <functional>
#include <set>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace dg::server {
namespace {

// Dotted paths of every scalar or sequence key of a YAML mapping.
void flatten_yaml(const YAML::Node& n, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& kv : n) {
    const std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    if (kv.second.IsMap() && kv.second.size() > 0) {
      flatten_yaml(kv.second, key, out);
    } else {
      out.insert(key);
    }
  }
}

void flatten_json(const nlohmann::json& j, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    out.insert(key);
    if (v.is_object()) flatten_json(v, key, out);
  }
}

TEST(admin_config_json, every_documented_key_is_shown) {
  const std::string file = std::string(DG_SOURCE_DIR) + "/deploy/distillguard.yaml";
  std::set<std::string> documented;
  flatten_yaml(YAML::LoadFile(file), "", documented);
  ASSERT_GT(documented.size(), 20u);

  const gateway_config c = load_config(file);
  std::set<std::string> shown;
  flatten_json(effective_config_json(c), "", shown);
  std::vector<std::string> missing;
  for (const auto& k : documented) {
    if (!shown.count(k)) missing.push_back(k);
  }
  EXPECT_TRUE(missing.empty()) << "documented in deploy/distillguard.yaml but not in GET /admin/config "
                                  "(add them to server/admin_config_json.cpp): "
                               << ::testing::PrintToString(missing);
}

TEST(admin_config_json, defaults_are_effective_values) {
  gateway_config c;
  auto j = effective_config_json(c);
  EXPECT_EQ(j["listen"], "127.0.0.1:8080");
  EXPECT_EQ(j["admin"]["listen"], "127.0.0.1:9901");
  EXPECT_EQ(j["upstream"]["verify"], true);
}

TEST(admin_config_json, secrets_never_appear) {
  const gateway_config c = load_config_string(R"(
admin: {token_file: /etc/distillguard/admin.token}
identity: {secret_file: /var/lib/distillguard/secret}
policy:
  allow_keys: ["sk-live-partner-0000000000000000wxyz"]
  deny_keys: ["sk-live-abuser-99999999999999991234"]
  allow_clients: ["3f2a9c"]
  watermark:
    key: {id: 3, secret: "inline-watermark-secret-value"}
)");
  const std::string text = effective_config_json(c).dump();
  EXPECT_EQ(text.find("partner-0000"), std::string::npos) << text;
  EXPECT_EQ(text.find("abuser-9999"), std::string::npos);
  EXPECT_EQ(text.find("inline-watermark-secret-value"), std::string::npos);
  auto j = effective_config_json(c);
  EXPECT_EQ(j["policy"]["allow_keys"][0], "sk-...wxyz");
  EXPECT_EQ(j["policy"]["deny_keys"][0], "sk-...1234");
  EXPECT_EQ(j["policy"]["allow_clients"][0], "3f2a9c");
  EXPECT_EQ(j["policy"]["watermark"]["key"]["id"], 3);
  EXPECT_EQ(j["identity"]["secret_file"], "/var/lib/distillguard/secret");
}

TEST(admin_config_json, credentials_are_hinted) {
  EXPECT_EQ(redact_credential("sk-proj-abcdefghijklmnop1234"), "sk-...1234");
  EXPECT_EQ(redact_credential("abcdefghijklmnopqrstuvwxyz"), "...wxyz");
  EXPECT_EQ(redact_credential("short"), "...");
}

}  // namespace
}  // namespace dg::server
