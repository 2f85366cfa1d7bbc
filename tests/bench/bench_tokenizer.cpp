// Tokenizer throughput: 100 KB of mixed text (the reference cases: ASCII, CJK, emoji, code,
// invalid UTF-8) and 100 KB without spaces (one giant word: BPE must not go quadratic), with the
// llama-spm (SPM) and gpt-2 (byte-level BPE) vocabularies. Prints ms and MB/s per run.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "lltest.h"
#include "runtime/formats/gguf.h"
#include "runtime/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

std::string fromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string mixedText(const fs::path& shared, size_t bytes) {
  std::ifstream f(shared / "reference/tokenizer/gpt-2.json");
  const auto j = nlohmann::json::parse(f);
  std::string pool;
  for (const auto& c : j["cases"]) pool += fromHex(c["bytes_hex"].get<std::string>()) + "\n";
  std::string out;
  while (out.size() < bytes) out += pool;
  out.resize(bytes);
  return out;
}

std::string noSpaces(size_t bytes) {
  const std::string word = "Pneumonoultramicroscopicsilicovolcanoconiosis";
  std::string out;
  while (out.size() < bytes) out += word;
  out.resize(bytes);
  return out;
}

void bench(const char* vocab, const char* what, const ll::rt::Tokenizer& tok,
           const std::string& text) {
  double best = 1e30;
  size_t n = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = tok.encode(text, -1, false);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ms);
    n = e.ids.size();
  }
  std::printf("%-10s %-22s %8zu bytes %7zu tokens %9.2f ms %8.2f MB/s\n", vocab, what, text.size(),
              n, best, text.size() / 1e6 / (best / 1e3));
}

}  // namespace

int main() {
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_tokenizer: set LAYERLENS_SHARED_DIR\n");
    return 1;
  }
  for (const char* vocab : {"llama-spm", "gpt-2"}) {
    const auto gguf = ll::rt::GgufFile::open(shared / "models/vocab" /
                                             (std::string("ggml-vocab-") + vocab + ".gguf"));
    const auto tok = ll::rt::makeTokenizer(ll::rt::vocabFromGguf(*gguf));
    bench(vocab, "mixed 100 KB", *tok, mixedText(shared, 100 * 1024));
    bench(vocab, "no spaces 10 KB", *tok, noSpaces(10 * 1024));
    bench(vocab, "no spaces 100 KB", *tok, noSpaces(100 * 1024));
    bench(vocab, "no spaces 1 MB", *tok, noSpaces(1024 * 1024));
  }
  return 0;
}
