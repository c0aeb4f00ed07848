// datasets: where tests, evaluations and benchmarks find the public prompt
// corpora: DG_DATASETS in the environment, else the folder CMake found
// (../shared/datasets beside the repository). The corpora are not part of the
// repository, so a checkout without them still builds and runs every other
// test: the ones that need them skip and say where they looked.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace dg::test_data {

inline std::string datasets_dir() {
  if (const char* env = std::getenv("DG_DATASETS"); env != nullptr && *env != '\0') return env;
  return DG_DATASETS_DIR;
}

inline std::string dataset_path(const std::string& file) { return datasets_dir() + "/" + file; }

// The corpora the tests read are all there.
inline bool datasets_present() {
  std::error_code ec;
  for (const char* f : {"questions.jsonl", "alpaca_5000.jsonl", "roleplay_prompts.jsonl"})
    if (!std::filesystem::is_regular_file(dataset_path(f), ec)) return false;
  return true;
}

// A corpus file, open; a missing one is an error, never an empty corpus that
// a test would divide by.
inline std::ifstream open_dataset(const std::string& file) {
  std::ifstream in(dataset_path(file));
  if (!in) throw std::runtime_error("cannot open the corpus " + dataset_path(file) + " (set DG_DATASETS)");
  return in;
}

}  // namespace dg::test_data

// First statement of a GoogleTest case that reads the corpora.
#define DG_REQUIRE_DATASETS()                                                                            \
  do {                                                                                                   \
    if (!::dg::test_data::datasets_present())                                                            \
      GTEST_SKIP() << "public corpora not found in " << ::dg::test_data::datasets_dir()                  \
                   << ": put ../shared/datasets beside the repository or set DG_DATASETS";               \
  } while (0)
