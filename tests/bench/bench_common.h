// What the model benchmarks share: their command-line options (--threads, --tokens, --layers,
// --type, --out, and any other "--key value" pair for the benchmark itself) and the
// TinyLlama-1.1B-shaped model file they run on, written once and reused from --out.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "fixture_writer.h"

namespace bench {

struct Args {
  int threads = 2, tokens = 512, layers = 22;
  std::string type = "Q8_0";  // Q8_0 or F16
  std::filesystem::path out = "/tmp/layerlens-bench";
  std::map<std::string, std::string> extra;  // other "--key value" pairs, key with its dashes
};

// "--key value" pairs over the defaults (this benchmark's default prompt length and layer count).
inline Args parseArgs(int argc, char** argv, int tokens, int layers) {
  Args args;
  args.tokens = tokens;
  args.layers = layers;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--threads")
      args.threads = std::atoi(v.c_str());
    else if (a == "--tokens")
      args.tokens = std::atoi(v.c_str());
    else if (a == "--layers")
      args.layers = std::atoi(v.c_str());
    else if (a == "--type")
      args.type = v;
    else if (a == "--out")
      args.out = v;
    else
      args.extra[a] = v;
  }
  return args;
}

// out/tinyllama-shaped-TYPE-L<layers>.gguf, written first when missing (the writer renames a
// finished temporary file into place, so no half-written model is reused); the tokenizer
// metadata comes from ../shared's llama-gqa-f16.gguf.
inline std::filesystem::path tinyLlamaShapedModel(const std::filesystem::path& out,
                                                  const std::string& type, int layers,
                                                  const std::filesystem::path& shared) {
  std::filesystem::create_directories(out);
  const auto file = out / ("tinyllama-shaped-" + type + "-L" + std::to_string(layers) + ".gguf");
  if (!std::filesystem::exists(file)) {
    const auto t0 = std::chrono::steady_clock::now();
    lltest::writeTinyLlamaShaped(file, type == "F16" ? 1 : 8, layers,
                                 shared / "models/llama-gqa-f16.gguf");
    std::printf("wrote %s in %.1f s\n", file.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return file;
}

}  // namespace bench
