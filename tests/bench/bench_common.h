// What the model benchmarks share: their command-line options (--threads, --tokens, --layers,
// --type, --out, and any other "--key value" pair for the benchmark itself) and the
// TinyLlama-1.1B-shaped model file they run on, written once and reused from --out.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixture_writer.h"

namespace bench {

// "a,b,,c" -> {"a", "b", "c"} (a comma-separated option's items, empty ones dropped).
inline std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

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

// The ggml type id writeTinyLlamaShaped takes for a weight type name (F16, Q8_0, Q4_0, Q4_K,
// Q6_K); -1 for others.
inline int fixtureTypeId(const std::string& type) {
  const std::map<std::string, int> ids = {
      {"F16", 1}, {"Q8_0", 8}, {"Q4_0", 2}, {"Q4_K", 12}, {"Q6_K", 14}};
  const auto it = ids.find(type);
  return it == ids.end() ? -1 : it->second;
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
    const int id = fixtureTypeId(type);
    if (id < 0) throw std::invalid_argument("no TinyLlama-shaped fixture of type " + type);
    lltest::writeTinyLlamaShaped(file, uint32_t(id), layers, shared / "models/llama-gqa-f16.gguf");
    std::printf("wrote %s in %.1f s\n", file.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return file;
}

}  // namespace bench
