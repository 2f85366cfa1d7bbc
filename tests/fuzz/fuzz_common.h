// Shared by the fuzz targets: the parsers take file paths, so each input is written to a scratch
// file (in /dev/shm when available) before parsing.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace llfuzz {

inline const std::filesystem::path& scratchFile(const char* ext) {
  static const std::filesystem::path p = [ext] {
    std::filesystem::path dir = std::filesystem::is_directory("/dev/shm")
                                    ? "/dev/shm"
                                    : std::filesystem::temp_directory_path();
    return dir / ("ll_fuzz_" + std::to_string(::getpid()) + ext);
  }();
  // libFuzzer ends a bounded run with exit(), so this removes the scratch file then.
  static const bool registered = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    });
    return true;
  }();
  (void)registered;
  return p;
}

inline void writeFile(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

// Reads every byte of a range a parser claims is inside the file, so ASan/SEGV flags any lie.
inline uint32_t touch(const uint8_t* p, size_t n) {
  uint32_t h = 0;
  for (size_t i = 0; i < n; i += 4096) h += p[i];
  if (n) h += p[n - 1];
  return h;
}

}  // namespace llfuzz
