// storage_options: the `storage:` block of the config. Plain struct; every
// field has a default and says what it does.
#pragma once

#include <cstdint>
#include <string>

#include "common/config_node.h"

namespace dg::storage {

struct storage_options {
  // Record events at all. Off: nothing is written, detectors still run.
  bool enabled = true;
  // The RocksDB directory (column families events, clients, audit).
  std::string path = "/var/lib/distillguard/db";
  // The writer commits one WriteBatch this often (or sooner when the batch is large).
  int flush_interval_ms = 100;
  // Events older than this are deleted in the background.
  int retention_days = 30;
  // How much prompt text is kept: hash (only a SHA-256), prefix (the first
  // prompt_prefix_chars characters) or full.
  std::string prompt_text = "hash";
  int prompt_prefix_chars = 256;
  // Events waiting for the writer; beyond this they are dropped and counted.
  std::uint32_t queue_capacity = 65536;
};

void read_storage_options(config_node& node, storage_options& out);

}  // namespace dg::storage
