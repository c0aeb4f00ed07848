#include "storage/storage_options.h"

#include <string>

namespace dg::storage {

void read_storage_options(config_node& node, storage_options& out) {
  node.read("enabled", out.enabled);
  node.read("path", out.path);
  if (out.path.empty()) node.fail("path", "must not be empty");
  node.read("flush_interval_ms", out.flush_interval_ms, 1, 60000);
  node.read("retention_days", out.retention_days, 1, 3650);
  node.read_choice("prompt_text", out.prompt_text, {"hash", "prefix", "full"});
  node.read("prompt_prefix_chars", out.prompt_prefix_chars, 1, 1 << 20);
  node.read("queue_capacity", out.queue_capacity, 16, 1u << 24);
  node.read("queue_max_mb", out.queue_max_mb, 1, 1 << 16);
  node.read("max_batch_events", out.max_batch_events, 1, 1u << 20);
  node.read_choice("compression", out.compression, {"none", "lz4", "zstd"});
  node.read("write_buffer_mb", out.write_buffer_mb, 1, 4096);
  node.read("block_cache_mb", out.block_cache_mb, 1, 1 << 20);
  node.read("max_open_files", out.max_open_files, -1, 1 << 24);
  if (out.max_open_files != -1 && out.max_open_files < min_max_open_files) {
    node.fail("max_open_files", "must be -1 (no limit) or at least " + std::to_string(min_max_open_files));
  }
  node.read("retention_check_interval_s", out.retention_check_interval_s, 1, 7 * 86400);
  node.finish();
}

}  // namespace dg::storage
