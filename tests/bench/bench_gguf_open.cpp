// Benchmark: GgufFile::open (metadata only) and loadModel on a large synthetic GGUF, a 7B-shaped
// llama (32 layers, Q4_K weights, ~3.9 GB of sparse tensor data, 152k-token vocabulary with
// merges), written to /tmp. Opening must not read tensor data, so it should take milliseconds
// whatever the file size. Prints figures; not part of ctest.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "runtime/formats/gguf.h"

namespace fs = std::filesystem;

namespace {

struct Writer {
  std::vector<uint8_t> b;
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
};

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path path =
      argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "ll_bench_large.gguf";
  const int nLayer = 32, d = 4096, ff = 11008, nVocab = 152064;
  struct T {
    std::string name;
    std::vector<int64_t> ne;
    ll::kern::QType type;
  };
  std::vector<T> tensors = {{"token_embd.weight", {d, nVocab}, ll::kern::QType::Q4_K},
                            {"output_norm.weight", {d}, ll::kern::QType::F32},
                            {"output.weight", {d, nVocab}, ll::kern::QType::Q6_K}};
  for (int l = 0; l < nLayer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    tensors.push_back({b + "attn_norm.weight", {d}, ll::kern::QType::F32});
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"})
      tensors.push_back({b + n + ".weight", {d, d}, ll::kern::QType::Q4_K});
    tensors.push_back({b + "ffn_norm.weight", {d}, ll::kern::QType::F32});
    tensors.push_back({b + "ffn_gate.weight", {d, ff}, ll::kern::QType::Q4_K});
    tensors.push_back({b + "ffn_up.weight", {d, ff}, ll::kern::QType::Q4_K});
    tensors.push_back({b + "ffn_down.weight", {ff, d}, ll::kern::QType::Q6_K});
  }

  auto t0 = std::chrono::steady_clock::now();
  Writer w;
  w.b.insert(w.b.end(), {'G', 'G', 'U', 'F'});
  w.put<uint32_t>(3);
  w.put<uint64_t>(tensors.size());
  const uint64_t nKv = 12;
  w.put<uint64_t>(nKv);
  auto kvU32 = [&](const std::string& k, uint32_t v) {
    w.str(k);
    w.put<uint32_t>(4);
    w.put<uint32_t>(v);
  };
  w.str("general.architecture");
  w.put<uint32_t>(8);
  w.str("llama");
  kvU32("llama.block_count", nLayer);
  kvU32("llama.embedding_length", d);
  kvU32("llama.feed_forward_length", ff);
  kvU32("llama.attention.head_count", 32);
  kvU32("llama.context_length", 4096);
  w.str("tokenizer.ggml.model");
  w.put<uint32_t>(8);
  w.str("gpt2");
  w.str("tokenizer.ggml.tokens");
  w.put<uint32_t>(9);
  w.put<uint32_t>(8);
  w.put<uint64_t>(nVocab);
  for (int i = 0; i < nVocab; ++i) w.str("tok_" + std::to_string(i));
  w.str("tokenizer.ggml.token_type");
  w.put<uint32_t>(9);
  w.put<uint32_t>(5);
  w.put<uint64_t>(nVocab);
  for (int i = 0; i < nVocab; ++i) w.put<int32_t>(1);
  w.str("tokenizer.ggml.scores");
  w.put<uint32_t>(9);
  w.put<uint32_t>(6);
  w.put<uint64_t>(nVocab);
  for (int i = 0; i < nVocab; ++i) w.put<float>(-float(i));
  w.str("tokenizer.ggml.merges");
  w.put<uint32_t>(9);
  w.put<uint32_t>(8);
  w.put<uint64_t>(nVocab - 256);
  for (int i = 0; i < nVocab - 256; ++i)
    w.str("tok_" + std::to_string(i) + " tok_" + std::to_string(i + 1));
  kvU32("general.alignment", 32);
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    w.str(t.name);
    w.put<uint32_t>(uint32_t(t.ne.size()));
    for (int64_t n : t.ne) w.put<int64_t>(n);
    w.put<uint32_t>(uint32_t(t.type));
    w.put<uint64_t>(offset);
    int64_t rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
    offset += (ll::kern::rowBytes(t.type, t.ne[0]) * uint64_t(rows) + 31) / 32 * 32;
  }
  while (w.b.size() % 32) w.b.push_back(0);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(w.b.data()), std::streamsize(w.b.size()));
  }
  fs::resize_file(path, w.b.size() + offset);  // sparse: the data section is never written
  std::printf("wrote %s: %zu tensors, %.1f MB metadata, %.2f GB total (sparse) in %.0f ms\n",
              path.c_str(), tensors.size(), w.b.size() / 1e6, (w.b.size() + offset) / 1e9,
              msSince(t0));

  std::vector<double> times;
  for (int rep = 0; rep < 7; ++rep) {
    t0 = std::chrono::steady_clock::now();
    auto f = ll::rt::GgufFile::open(path);
    times.push_back(msSince(t0));
    if (f->tensors().size() != tensors.size()) return 1;
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "GgufFile::open: median %.1f ms, min %.1f ms, max %.1f ms (7 runs; %d-token vocab + "
      "merges)\n",
      times[3], times[0], times[6], nVocab);

  // Copying the token list out, as the tokenizer does.
  auto f = ll::rt::GgufFile::open(path);
  t0 = std::chrono::steady_clock::now();
  auto tokens = f->getStringArray("tokenizer.ggml.tokens");
  std::printf("getStringArray(tokens): %.1f ms for %zu strings\n", msSince(t0), tokens.size());
  fs::remove(path);
  return 0;
}
