// Test helper: writes GGUF files byte by byte so tests can build valid fixtures and precisely
// broken ones (wrong counts, offsets, types) without any reader code involved.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace lltest {

class GgufBuilder {
 public:
  enum VType : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;  // default: packed, aligned
  };

  uint32_t version = 3;
  uint32_t alignment =
      32;  // used for layout; write general.alignment yourself to change the reader's
  std::optional<uint64_t> tensorCountOverride, kvCountOverride;
  std::vector<Tensor> tensors;

  template <class T>
  static void put(std::vector<uint8_t>& b, T v) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
  }
  static void putStr(std::vector<uint8_t>& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
  }

  void kvRaw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
    putStr(m_kv, key);
    put<uint32_t>(m_kv, type);
    m_kv.insert(m_kv.end(), value.begin(), value.end());
    ++m_nKv;
  }
  void kvString(const std::string& key, const std::string& v) {
    std::vector<uint8_t> b;
    putStr(b, v);
    kvRaw(key, STRING, b);
  }
  void kvU32(const std::string& key, uint32_t v) {
    std::vector<uint8_t> b;
    put(b, v);
    kvRaw(key, U32, b);
  }
  void kvF32(const std::string& key, float v) {
    std::vector<uint8_t> b;
    put(b, v);
    kvRaw(key, F32, b);
  }
  void kvStringArray(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, STRING);
    put<uint64_t>(b, v.size());
    for (const auto& s : v) putStr(b, s);
    kvRaw(key, ARRAY, b);
  }
  void kvF32Array(const std::string& key, const std::vector<float>& v) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, F32);
    put<uint64_t>(b, v.size());
    for (float x : v) put(b, x);
    kvRaw(key, ARRAY, b);
  }
  void kvI32Array(const std::string& key, const std::vector<int32_t>& v) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, I32);
    put<uint64_t>(b, v.size());
    for (int32_t x : v) put(b, x);
    kvRaw(key, ARRAY, b);
  }

  // An F32 tensor filled with a deterministic pattern.
  void addF32(const std::string& name, std::vector<int64_t> ne) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    Tensor t{name, std::move(ne), 0, {}, {}};
    for (int64_t i = 0; i < n; ++i) put<float>(t.data, float((i * 7919) % 101) / 101.0f - 0.5f);
    tensors.push_back(std::move(t));
  }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> b = {'G', 'G', 'U', 'F'};
    put<uint32_t>(b, version);
    put<uint64_t>(b, tensorCountOverride.value_or(tensors.size()));
    put<uint64_t>(b, kvCountOverride.value_or(m_nKv));
    b.insert(b.end(), m_kv.begin(), m_kv.end());
    std::vector<uint64_t> offsets;
    uint64_t next = 0;
    for (const auto& t : tensors) {
      const uint64_t off = t.offset.value_or(next);
      offsets.push_back(off);
      next = (off + t.data.size() + alignment - 1) / alignment * alignment;
      putStr(b, t.name);
      put<uint32_t>(b, uint32_t(t.ne.size()));
      for (int64_t d : t.ne) put<int64_t>(b, d);
      put<uint32_t>(b, t.type);
      put<uint64_t>(b, off);
    }
    if (!tensors.empty()) {
      while (b.size() % alignment) b.push_back(0);
      const size_t dataStart = b.size();
      for (size_t i = 0; i < tensors.size(); ++i) {
        const size_t at = dataStart + offsets[i];
        if (b.size() < at + tensors[i].data.size()) b.resize(at + tensors[i].data.size(), 0);
        // Empty data has a null data(): memcpy from null is UB even for 0 bytes (UBSan).
        if (!tensors[i].data.empty())
          std::memcpy(b.data() + at, tensors[i].data.data(), tensors[i].data.size());
      }
    }
    return b;
  }

  void write(const std::filesystem::path& p) const { writeBytes(p, build()); }

  static void writeBytes(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }

 private:
  std::vector<uint8_t> m_kv;
  uint64_t m_nKv = 0;
};

// A complete tiny llama GGUF (2 layers, d 32, 4/2 heads, ff 64, 16-token vocab) that loadModel
// accepts; tests remove or break parts of it.
inline GgufBuilder tinyLlama() {
  GgufBuilder g;
  g.kvString("general.architecture", "llama");
  g.kvString("general.name", "tiny");
  g.kvU32("llama.block_count", 2);
  g.kvU32("llama.embedding_length", 32);
  g.kvU32("llama.attention.head_count", 4);
  g.kvU32("llama.attention.head_count_kv", 2);
  g.kvU32("llama.feed_forward_length", 64);
  g.kvU32("llama.context_length", 128);
  g.kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  g.kvString("tokenizer.ggml.model", "llama");
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (const char* t : {"\xe2\x96\x81", "a", "b", "c",
                        "\xe2\x96\x81"
                        "a",
                        "ab", "bc", "d", "e", "f", "g", "h", "i"}) {
    toks.push_back(t);
    scores.push_back(-float(toks.size()));
    types.push_back(1);
  }
  g.kvStringArray("tokenizer.ggml.tokens", toks);
  g.kvF32Array("tokenizer.ggml.scores", scores);
  g.kvI32Array("tokenizer.ggml.token_type", types);
  g.kvU32("tokenizer.ggml.bos_token_id", 1);
  g.kvU32("tokenizer.ggml.eos_token_id", 2);
  const int64_t d = 32, kv = 16, ff = 64, v = int64_t(toks.size());
  g.addF32("token_embd.weight", {d, v});
  g.addF32("output_norm.weight", {d});
  g.addF32("output.weight", {d, v});
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    g.addF32(b + "attn_norm.weight", {d});
    g.addF32(b + "attn_q.weight", {d, d});
    g.addF32(b + "attn_k.weight", {d, kv});
    g.addF32(b + "attn_v.weight", {d, kv});
    g.addF32(b + "attn_output.weight", {d, d});
    g.addF32(b + "ffn_norm.weight", {d});
    g.addF32(b + "ffn_gate.weight", {d, ff});
    g.addF32(b + "ffn_up.weight", {d, ff});
    g.addF32(b + "ffn_down.weight", {ff, d});
  }
  return g;
}

}  // namespace lltest
