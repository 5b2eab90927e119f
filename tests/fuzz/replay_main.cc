// Replay driver for fuzz targets built without libFuzzer: runs
// LLVMFuzzerTestOneInput over every file in the given directories (the seed
// corpus), plus a fixed set of deterministic mutations of each seed
// (truncations and single-byte flips), so a plain gcc build still drives each
// parser through its error paths. Exit 0 unless the target crashes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void RunWithMutations(const std::vector<std::uint8_t>& seed) {
  LLVMFuzzerTestOneInput(seed.data(), seed.size());
  for (std::size_t cut = 0; cut < seed.size(); cut += 1 + seed.size() / 64) {
    std::vector<std::uint8_t> v(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(cut));
    LLVMFuzzerTestOneInput(v.data(), v.size());
  }
  std::vector<std::uint8_t> v = seed;
  for (std::size_t i = 0; i < v.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      v[i] ^= flip;
      LLVMFuzzerTestOneInput(v.data(), v.size());
      v[i] ^= flip;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (!std::filesystem::is_directory(argv[i], ec)) {
      std::fprintf(stderr, "corpus directory %s not found\n", argv[i]);
      return 2;
    }
    for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<std::uint8_t> seed((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
      RunWithMutations(seed);
      ++files;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "no seed files: a fuzz target without seeds tests nothing\n");
    return 2;
  }
  std::printf("replayed %zu seeds with mutations\n", files);
  return 0;
}
