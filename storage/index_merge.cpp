#include "storage/index_merge.h"

namespace dg::storage {

std::vector<std::string> pick_index_merge(const std::vector<index_file>& files,
                                          const index_merge_limits& limits) {
  std::vector<std::string> run;
  for (const auto& f : files) {
    if (f.being_compacted || f.size >= limits.small_file_bytes) {
      if (run.size() >= limits.min_files) return run;
      run.clear();
      continue;
    }
    run.push_back(f.name);
    if (run.size() == limits.max_files) return run;
  }
  if (run.size() < limits.min_files) run.clear();
  return run;
}

}  // namespace dg::storage
