#include "common/config_node.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

struct loaded {
  std::shared_ptr<config_errors> errors = std::make_shared<config_errors>();
  config_node root;
  explicit loaded(const std::string& text)
      : root(config_node::load_string(text, "test.yaml", errors)) {}
};

TEST(config_node, reads_values_and_keeps_defaults_for_absent_keys) {
  loaded l("threads: 4\nname: gw\nratio: 0.5\non: true\nlist: [a, b]\n");
  int threads = 1;
  std::string name, missing = "default";
  double ratio = 0;
  bool on = false;
  std::vector<std::string> list;
  l.root.read("threads", threads, 1, 64);
  l.root.read("name", name);
  l.root.read("missing", missing);
  l.root.read("ratio", ratio, 0, 1);
  l.root.read("on", on);
  l.root.read("list", list);
  l.root.finish();
  EXPECT_TRUE(l.errors->empty()) << l.errors->joined();
  EXPECT_EQ(threads, 4);
  EXPECT_EQ(name, "gw");
  EXPECT_EQ(missing, "default");
  EXPECT_DOUBLE_EQ(ratio, 0.5);
  EXPECT_TRUE(on);
  EXPECT_EQ(list, (std::vector<std::string>{"a", "b"}));
}

TEST(config_node, unknown_key_is_reported_with_file_line_and_path) {
  loaded l("storage:\n  path: /tmp/x\n  flush_intervall_ms: 5\n");
  auto storage = l.root.child("storage");
  std::string path;
  storage.read("path", path);
  storage.finish();
  l.root.finish();
  ASSERT_EQ(l.errors->messages.size(), 1u);
  EXPECT_EQ(l.errors->messages[0], "test.yaml:3:3: unknown key 'storage.flush_intervall_ms'");
}

TEST(config_node, out_of_range_and_malformed_values_are_errors) {
  loaded l("a: 0\nb: x\nc: maybe\nd: [1]\n");
  int a = 1, b = 1;
  bool c = false;
  std::string d;
  l.root.read("a", a, 1, 10);
  l.root.read("b", b, 1, 10);
  l.root.read("c", c);
  l.root.read("d", d);
  ASSERT_EQ(l.errors->messages.size(), 4u);
  EXPECT_EQ(l.errors->messages[0], "test.yaml:1:4: key 'a': must be between 1 and 10 (got 0)");
  EXPECT_EQ(l.errors->messages[1], "test.yaml:2:4: key 'b': expected an integer");
  EXPECT_EQ(l.errors->messages[2], "test.yaml:3:4: key 'c': expected true or false");
  EXPECT_EQ(l.errors->messages[3], "test.yaml:4:4: key 'd': expected a string");
  EXPECT_EQ(a, 1);
}

TEST(config_node, choices_and_addresses) {
  loaded l("mode: shadow\nbad: loud\nlisten: 127.0.0.1:8080\nv6: '[::1]:9901'\nnoport: host\n");
  std::string mode = "enforce", bad = "enforce", host;
  std::uint16_t port = 0;
  l.root.read_choice("mode", mode, {"enforce", "shadow"});
  l.root.read_choice("bad", bad, {"enforce", "shadow"});
  EXPECT_EQ(mode, "shadow");
  EXPECT_EQ(bad, "enforce");
  l.root.read_address("listen", host, port);
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  l.root.read_address("v6", host, port);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9901);
  l.root.read_address("noport", host, port);
  ASSERT_EQ(l.errors->messages.size(), 2u);
  EXPECT_NE(l.errors->messages[0].find("must be one of enforce, shadow (got 'loud')"),
            std::string::npos);
  EXPECT_NE(l.errors->messages[1].find("expected HOST:PORT"), std::string::npos);
}

TEST(config_node, syntax_error_is_reported_with_position) {
  auto errors = std::make_shared<config_errors>();
  config_node::load_string("a: [1, 2\n", "bad.yaml", errors);
  ASSERT_EQ(errors->messages.size(), 1u);
  EXPECT_EQ(errors->messages[0].rfind("bad.yaml:", 0), 0u);
}

TEST(config_node, scalar_where_a_block_belongs_is_an_error) {
  loaded l("storage: 5\n");
  auto s = l.root.child("storage");
  EXPECT_FALSE(s.present());
  ASSERT_EQ(l.errors->messages.size(), 1u);
  EXPECT_NE(l.errors->messages[0].find("key 'storage': expected a mapping"), std::string::npos);
}

}  // namespace
}  // namespace dg
