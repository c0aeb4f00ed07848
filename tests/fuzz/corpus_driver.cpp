// corpus_driver: the main() of a fuzz target built without libFuzzer (GCC,
// plain `make test`). It runs every file named on the command line, or every
// regular file under every directory named, through LLVMFuzzerTestOneInput
// once, so that the seed corpora and every crash found earlier are replayed as
// regression tests. Exits non-zero when a path is missing or a directory is
// empty (a corpus that silently vanished would make the test meaningless).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy in its own allocation, so that ASan sees reads past the end.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  std::fprintf(stderr, "running %s (%zu bytes)\n", p.c_str(), data.size());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(arg)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());  // a stable order makes a failure easy to reproduce
      if (files.empty()) {
        std::fprintf(stderr, "empty corpus directory %s\n", arg.c_str());
        return 2;
      }
      for (const auto& f : files) {
        if (!run_file(f)) return 2;
        ++ran;
      }
    } else {
      if (!run_file(arg)) return 2;
      ++ran;
    }
  }
  std::fprintf(stderr, "%zu inputs ran without a crash\n", ran);
  return ran > 0 ? 0 : 2;
}
