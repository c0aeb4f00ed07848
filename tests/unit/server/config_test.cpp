#include "server/config.h"

#include <gtest/gtest.h>

namespace dg::server {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    (void)load_config_string(yaml, "t.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(config, defaults_when_empty) {
  const auto c = load_config_string("{}\n");
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.admin.port, 9901);
  EXPECT_EQ(c.threads, 0);
  EXPECT_FALSE(c.upstream.parsed.tls);
  EXPECT_EQ(c.upstream.parsed.port, 8000);
  EXPECT_TRUE(c.upstream.verify);
  EXPECT_EQ(secret_path(c), "/var/lib/distillguard/secret");
}

TEST(config, good_file) {
  const auto c = load_config_string(R"(
listen: "[::1]:0"
threads: 3
state_dir: /tmp/dg
upstream:
  url: https://api.example.com/openai/
  connect_timeout_ms: 100
admin:
  listen: 127.0.0.1:0
limits:
  max_body_bytes: 1024
identity:
  header: X-User-Id
  trusted_proxies: [10.0.0.0/8, "::1"]
log:
  level: debug
storage:
  path: /tmp/dg/db
)");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 0);
  EXPECT_EQ(c.threads, 3);
  EXPECT_TRUE(c.upstream.parsed.tls);
  EXPECT_EQ(c.upstream.parsed.host, "api.example.com");
  EXPECT_EQ(c.upstream.parsed.port, 443);
  EXPECT_EQ(c.upstream.parsed.base_path, "/openai");
  EXPECT_EQ(c.upstream.parsed.host_header, "api.example.com");
  EXPECT_EQ(c.upstream.connect_timeout_ms, 100);
  EXPECT_EQ(c.limits.max_body_bytes, 1024u);
  EXPECT_EQ(c.identity.header, "x-user-id");
  ASSERT_EQ(c.identity.trusted.size(), 2u);
  EXPECT_EQ(c.storage.path, "/tmp/dg/db");
  EXPECT_EQ(c.log.level, "debug");
}

TEST(config, unknown_key_names_file_line_and_key) {
  const std::string e = error_of("upstream:\n  url: http://a:1\n  colour: blue\n");
  EXPECT_NE(e.find("t.yaml:3:3: unknown key 'upstream.colour'"), std::string::npos) << e;
}

TEST(config, every_bad_value_is_listed) {
  const std::string e = error_of(
      "listen: nowhere\n"
      "threads: lots\n"
      "upstream:\n  url: ftp://x\n"
      "limits:\n  max_header_bytes: 1\n"
      "tls:\n  cert_file: /nonexistent.pem\n"
      "identity:\n  trusted_proxies: [300.1.1.1]\n"
      "log:\n  level: chatty\n");
  for (const char* key : {"'listen'", "'threads'", "'upstream.url'", "'limits.max_header_bytes'",
                          "'tls.cert_file'", "'identity.trusted_proxies'",
                          "'log.level'"}) {
    EXPECT_NE(e.find(key), std::string::npos) << key << " missing in:\n" << e;
  }
  EXPECT_NE(e.find("t.yaml:1:9:"), std::string::npos) << e;
}

// A file path the system cannot even check (ENAMETOOLONG) is a bad value
// with its file, line and key, not a std::filesystem error out of the loader.
TEST(config, unchecked_file_path_is_a_config_error) {
  const std::string long_path = "/" + std::string(5000, 'x') + ".pem";
  std::string e;
  ASSERT_NO_THROW(e = error_of("tls:\n  cert_file: " + long_path + "\n  key_file: /nonexistent.key\n"
                               "upstream:\n  url: http://a:1\n  ca_file: " + long_path + "\n"));
  for (const char* key : {"'tls.cert_file'", "'tls.key_file'", "'upstream.ca_file'"}) {
    EXPECT_NE(e.find(key), std::string::npos) << key << " missing in:\n" << e.substr(0, 400);
  }
  EXPECT_NE(e.find("cannot check"), std::string::npos) << e.substr(0, 400);
}

TEST(config, yaml_syntax_error_has_position) {
  const std::string e = error_of("listen: [unclosed\n");
  EXPECT_NE(e.find("t.yaml:"), std::string::npos) << e;
}

TEST(config, upstream_url_shapes) {
  upstream_url u;
  std::string err;
  ASSERT_TRUE(parse_upstream_url("http://[::1]:9000", u, err));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.host_header, "[::1]:9000");
  ASSERT_TRUE(parse_upstream_url("https://h:443", u, err));
  EXPECT_EQ(u.host_header, "h");
  EXPECT_FALSE(parse_upstream_url("http://", u, err));
  EXPECT_FALSE(parse_upstream_url("http://h:0", u, err));
  EXPECT_FALSE(parse_upstream_url("http://u:p@h", u, err));
  EXPECT_FALSE(parse_upstream_url("h:80", u, err));
}

TEST(config, shipped_default_config_loads_clean) {
  const auto c = load_config(DG_SOURCE_DIR "/deploy/distillguard.yaml");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.admin.port, 9901);
  EXPECT_EQ(c.upstream.url, "http://127.0.0.1:8000");
}

}  // namespace
}  // namespace dg::server
