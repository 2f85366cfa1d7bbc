// Writes the seed corpus for the fuzz targets: small valid GGUF and safetensors files built
// byte by byte, and tokenizer.json files (a minimal one, plus shared/models/hf's when present).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf_builder.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path root = argv[1];
  for (const char* d : {"gguf", "safetensors", "tokenizer_json"}) fs::create_directories(root / d);

  auto g = lltest::tinyLlama();
  g.write(root / "gguf/tiny_llama.gguf");
  lltest::GgufBuilder v;  // vocabulary only, no tensors
  v.kvString("general.architecture", "llama");
  v.kvStringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
  v.kvF32Array("tokenizer.ggml.scores", {0, -1, -2});
  v.write(root / "gguf/vocab_only.gguf");

  nlohmann::json h = {{"__metadata__", {{"format", "pt"}}},
                      {"a", {{"dtype", "F32"}, {"shape", {2, 2}}, {"data_offsets", {0, 16}}}},
                      {"b", {{"dtype", "F16"}, {"shape", {4}}, {"data_offsets", {16, 24}}}},
                      {"c", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {24, 28}}}}};
  std::string hs = h.dump();
  std::vector<uint8_t> st;
  lltest::GgufBuilder::put<uint64_t>(st, hs.size());
  st.insert(st.end(), hs.begin(), hs.end());
  st.resize(st.size() + 28, 0x3c);
  lltest::GgufBuilder::writeBytes(root / "safetensors/small.safetensors", st);

  std::ofstream(root / "tokenizer_json/bpe_min.json") << R"({"version": "1.0", "added_tokens": [
    {"id": 0, "content": "<s>", "special": true}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "model": {"type": "BPE", "vocab": {"<s>": 0, "H": 1, "e": 2, "l": 3, "o": 4, "He": 5, "ll": 6, "llo": 7},
              "merges": ["H e", "l l", "ll o"]}})";
  if (const char* shared = std::getenv("LAYERLENS_SHARED_DIR")) {
    const fs::path tj = fs::path(shared) / "models/hf/stories260K/tokenizer.json";
    std::error_code ec;
    if (fs::exists(tj))
      fs::copy_file(tj, root / "tokenizer_json/stories260K.json",
                    fs::copy_options::overwrite_existing, ec);
  }
  return 0;
}
