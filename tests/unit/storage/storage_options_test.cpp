// The `storage:` block: values reach the struct, bad ones are refused with
// file, line and key.
#include "storage/storage_options.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace dg::storage {
namespace {

// Reads `text` as the storage block; returns the errors, one a line.
std::string read_block(const std::string& text, storage_options& out) {
  auto errors = std::make_shared<config_errors>();
  config_node root = config_node::load_string(text, "t.yaml", errors);
  config_node block = root.child("storage");
  read_storage_options(block, out);
  root.finish();
  return errors->joined();
}

TEST(storage_options, max_open_files_is_bounded_by_default) {
  storage_options o;
  EXPECT_EQ(read_block("storage:\n  path: /tmp/x\n", o), "");
  EXPECT_GE(o.max_open_files, min_max_open_files);
  EXPECT_LE(o.max_open_files, 1000);
}

TEST(storage_options, max_open_files_is_read) {
  storage_options o;
  EXPECT_EQ(read_block("storage:\n  max_open_files: 300\n", o), "");
  EXPECT_EQ(o.max_open_files, 300);
  EXPECT_EQ(read_block("storage:\n  max_open_files: -1\n", o), "");
  EXPECT_EQ(o.max_open_files, -1);
}

TEST(storage_options, bad_max_open_files_is_refused_with_file_line_and_key) {
  for (const char* bad : {"0", "10", "63", "-2", "lots"}) {
    storage_options o;
    const std::string e = read_block(std::string("storage:\n  path: /tmp/x\n  max_open_files: ") + bad + "\n", o);
    EXPECT_NE(e.find("t.yaml:3:19: key 'storage.max_open_files'"), std::string::npos)
        << bad << ": " << e;
  }
}

TEST(storage_options, queue_max_mb_is_read_and_bad_values_are_refused) {
  storage_options o;
  EXPECT_EQ(read_block("storage:\n  queue_max_mb: 16\n", o), "");
  EXPECT_EQ(o.queue_max_mb, 16);
  for (const char* bad : {"0", "-1", "65537", "lots"}) {
    storage_options b;
    const std::string e = read_block(std::string("storage:\n  path: /tmp/x\n  queue_max_mb: ") + bad + "\n", b);
    EXPECT_NE(e.find("t.yaml:3:17: key 'storage.queue_max_mb'"), std::string::npos) << bad << ": " << e;
  }
}

}  // namespace
}  // namespace dg::storage
