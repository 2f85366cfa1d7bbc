// Broken model folders and checkpoints (HF config.json / safetensors / index, llama2.c headers),
// written into a temp dir: loadModel must throw a FormatError naming the offending file.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "../formats/gguf_builder.h"
#include "lltest.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using ll::rt::FormatError;

namespace {

const lltest::ScratchDir kScratch("ll_tst_bad_model_");  // removed at exit
const fs::path& root() {
  return kScratch.path();
}

fs::path freshDir(const std::string& name) {
  fs::path p = root() / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void writeText(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

std::string loadError(const fs::path& p) {
  try {
    ll::rt::loadModel(p);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(msg, fileNeedle, needle)                                                    \
  do {                                                                                           \
    const std::string m_ = (msg);                                                                \
    QVERIFY2(m_.find(fileNeedle) != std::string::npos && m_.find(needle) != std::string::npos,   \
             "expected '" + std::string(fileNeedle) + "' and '" + needle + "' in '" + m_ + "'"); \
  } while (0)

const char* kLlamaConfig =
    R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64,
  "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 16,
  "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "tie_word_embeddings": true})";

std::vector<uint8_t> safetensors(const nlohmann::json& header, size_t dataBytes) {
  std::string h = header.dump();
  std::vector<uint8_t> b;
  lltest::GgufBuilder::put<uint64_t>(b, h.size());
  b.insert(b.end(), h.begin(), h.end());
  b.resize(b.size() + dataBytes, 0);
  return b;
}

}  // namespace

LL_TEST(hfConfigProblems) {
  fs::path d = freshDir("cfg");
  EXPECT_ERROR(loadError(d), d.string(), "no config.json");
  writeText(d / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"], ");
  EXPECT_ERROR(loadError(d), "config.json", "invalid JSON");
  writeText(d / "config.json", "[1, 2]");
  EXPECT_ERROR(loadError(d), "config.json", "not a JSON object");
  writeText(d / "config.json", R"({"architectures": ["MambaForCausalLM"]})");
  EXPECT_ERROR(loadError(d), "config.json", "unsupported model class 'MambaForCausalLM'");
  writeText(d / "config.json",
            R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 1})");
  EXPECT_ERROR(loadError(d), "config.json", "lacks 'hidden_size'");
  writeText(d / "config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "big"})");
  EXPECT_ERROR(loadError(d), "config.json", "'hidden_size' is not an integer");
  auto cfg = nlohmann::json::parse(kLlamaConfig);
  cfg["num_key_value_heads"] = 3;
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "invalid hyperparameters");
  cfg = nlohmann::json::parse(kLlamaConfig);
  cfg["num_hidden_layers"] = 2000000000;
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "n_layer = 2000000000");
  writeText(d / "config.json", kLlamaConfig);
  EXPECT_ERROR(loadError(d), d.string(), "no model.safetensors");
}

LL_TEST(hfNewFamilyConfigProblems) {
  fs::path d = freshDir("families");
  const auto gemma = nlohmann::json::parse(
      R"({"architectures": ["Gemma3ForCausalLM"], "hidden_size": 32, "intermediate_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
      "vocab_size": 16})");
  auto cfg = gemma;
  cfg["layer_types"] = {"sliding_attention"};
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "'layer_types' is not a list of num_hidden_layers");
  cfg["layer_types"] = {"sliding_attention", "chunked_attention"};
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json",
               "unsupported layer_types entry '\"chunked_attention\"'");
  cfg = gemma;
  cfg["hidden_activation"] = "relu";
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "unsupported hidden_activation 'relu'");
  cfg = gemma;
  cfg["final_logit_softcapping"] = -1.0;
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "negative soft-capping value");
  // Gemma norms are 1-D; the +1 is refused for anything else.
  writeText(d / "config.json", gemma.dump());
  lltest::GgufBuilder::writeBytes(
      d / "model.safetensors",
      safetensors({{"model.norm.weight",
                    {{"dtype", "F32"}, {"shape", {2, 16}}, {"data_offsets", {0, 128}}}}},
                  128));
  EXPECT_ERROR(loadError(d), "model.safetensors", "model.norm.weight (a norm weight) must be 1-D");
  fs::remove(d / "model.safetensors");

  const auto phi3 = nlohmann::json::parse(
      R"({"architectures": ["Phi3ForCausalLM"], "hidden_size": 64, "intermediate_size": 64,
      "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 16,
      "max_position_embeddings": 4096, "original_max_position_embeddings": 1024,
      "rope_scaling": {"type": "longrope", "long_factor": [1, 2, 3, 4, 5, 6, 7, 8],
                       "short_factor": [1, 1, 1, 1, 1, 1, 1, 1]}})");
  cfg = phi3;
  cfg["rope_scaling"]["type"] = "yarn";
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json",
               "unsupported rope_scaling type 'yarn' (supported: linear, llama3, longrope, su)");
  cfg = phi3;
  cfg.erase("original_max_position_embeddings");
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "without original_max_position_embeddings");
  cfg = phi3;
  cfg["rope_scaling"]["long_factor"] = {1, 2, 3};
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "rope_scaling.long_factor has 3 factors, expected 8");
  cfg = phi3;
  cfg["rope_scaling"]["long_factor"][2] = 0;
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "rope_scaling.long_factor holds a non-positive factor");
  cfg = phi3;
  cfg["rope_scaling"]["short_factor"] = "none";
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "rope_scaling.short_factor is not a list of numbers");
  cfg = phi3;
  cfg["hidden_act"] = "gelu";
  writeText(d / "config.json", cfg.dump());
  EXPECT_ERROR(loadError(d), "config.json", "unsupported hidden_act \"gelu\"");
}

LL_TEST(hfWeightsProblems) {
  fs::path d = freshDir("weights");
  writeText(d / "config.json", kLlamaConfig);
  // A header that lies about its tensor's size.
  lltest::GgufBuilder::writeBytes(
      d / "model.safetensors",
      safetensors({{"model.embed_tokens.weight",
                    {{"dtype", "F32"}, {"shape", {16, 32}}, {"data_offsets", {0, 100}}}}},
                  100));
  EXPECT_ERROR(loadError(d), "model.safetensors",
               "spans 100 bytes but its shape and dtype need 2048");
  // Valid file, but the model is incomplete.
  lltest::GgufBuilder::writeBytes(
      d / "model.safetensors",
      safetensors({{"model.embed_tokens.weight",
                    {{"dtype", "F32"}, {"shape", {16, 32}}, {"data_offsets", {0, 2048}}}}},
                  2048));
  EXPECT_ERROR(loadError(d), d.string(), "missing blk.0.attn_q.weight [32, 32]");
  // Wrong shape for q_proj: permutation must refuse rather than read out of bounds.
  lltest::GgufBuilder::writeBytes(
      d / "model.safetensors",
      safetensors({{"model.layers.0.self_attn.q_proj.weight",
                    {{"dtype", "F32"}, {"shape", {6, 32}}, {"data_offsets", {0, 768}}}}},
                  768));
  EXPECT_ERROR(loadError(d), "model.safetensors", "cannot permute");
}

LL_TEST(hfIndexProblems) {
  fs::path d = freshDir("index");
  writeText(d / "config.json", kLlamaConfig);
  writeText(d / "model.safetensors.index.json", "{\"weight_map\": 5}");
  EXPECT_ERROR(loadError(d), "model.safetensors.index.json", "no weight_map");
  writeText(d / "model.safetensors.index.json", R"({"weight_map": {"a": "../../etc/passwd"}})");
  EXPECT_ERROR(loadError(d), "model.safetensors.index.json", "invalid shard file");
  writeText(d / "model.safetensors.index.json", R"({"weight_map": {"a": "model-1.safetensors"}})");
  EXPECT_ERROR(loadError(d), "model-1.safetensors", "cannot open");
  lltest::GgufBuilder::writeBytes(d / "model-1.safetensors",
                                  safetensors(nlohmann::json::object(), 0));
  EXPECT_ERROR(loadError(d), "model.safetensors.index.json", "puts 'a' in model-1.safetensors");
}

LL_TEST(llama2cProblems) {
  fs::path d = freshDir("l2c");
  const fs::path p = d / "model.bin";
  auto header = [&](std::vector<int32_t> h, size_t extraFloats) {
    std::vector<uint8_t> b;
    for (int32_t v : h) lltest::GgufBuilder::put<int32_t>(b, v);
    b.resize(b.size() + extraFloats * 4, 0);
    lltest::GgufBuilder::writeBytes(p, b);
  };
  header({64, 172}, 0);
  EXPECT_ERROR(loadError(p), "model.bin", "too small");
  header({64, 172, 5, 8, 4, 512, 0}, 0);
  EXPECT_ERROR(loadError(p), "model.bin", "seq_len = 0");
  header({1 << 30, 172, 5, 8, 4, 512, 512}, 0);
  EXPECT_ERROR(loadError(p), "model.bin", "dim = 1073741824");
  header({64, 172, 5, 8, 3, 512, 512}, 0);
  EXPECT_ERROR(loadError(p), "model.bin", "do not divide");
  header({64, 172, 5, 8, 4, -2147483647 - 1, 512}, 0);
  EXPECT_ERROR(loadError(p), "model.bin", "vocab_size");
  header({64, 172, 5, 8, 4, 512, 512}, 1000);
  EXPECT_ERROR(loadError(p), "model.bin", "header implies");
}

LL_TEST(llama2cTruncatedAndMissingTokenizer) {
  const fs::path shared = LL_REQUIRE_SHARED();
  fs::path d = freshDir("l2c-real");
  std::ifstream in(shared / "models/llama2c/stories260K.bin", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path p = d / "stories.bin";
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() - 4));
  EXPECT_ERROR(loadError(p), "stories.bin", "header implies");
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  EXPECT_ERROR(loadError(p), "stories.bin", "tok512.bin");
}

LL_TEST(randomlyCorruptedGgufModels) {
  // Byte flips anywhere in a complete tiny model (header, metadata, tokenizer arrays, tensor
  // table, data): loadModel either succeeds or throws FormatError; nothing else escapes.
  const auto good = lltest::tinyLlama().build();
  const fs::path p = freshDir("mutants") / "mutant.gguf";
  std::mt19937 rng(12345);
  int refused = 0, loaded = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    auto b = good;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Bias towards the header and metadata, where the parsing decisions are.
      const size_t at = (rng() % 2) ? rng() % std::min<size_t>(b.size(), 1200) : rng() % b.size();
      b[at] = uint8_t(rng() % 3 == 0 ? 0xFF : rng());
    }
    lltest::GgufBuilder::writeBytes(p, b);
    try {
      auto m = ll::rt::loadModel(p);
      if (m->tokenizer) (void)m->tokenizer->encode("abc bca", -1, false);
      ++loaded;
    } catch (const FormatError& e) {
      QVERIFY2(std::string(e.what()).find("mutant.gguf") != std::string::npos, e.what());
      ++refused;
    } catch (const std::exception& e) {
      QFAIL("iteration " + std::to_string(iter) + ": non-FormatError exception: " + e.what());
    }
  }
  QVERIFY(refused > 100);
  QVERIFY(loaded > 100);  // flips in tensor data leave a valid model
}

LL_TEST(hfHeadersWithAlteredNumbers) {
  // The real hf/stories260K folder with digits in its safetensors header or config.json changed
  // at random: shapes, offsets and hyperparameters that lie. Load or FormatError, nothing else.
  const fs::path shared = LL_REQUIRE_SHARED();
  const fs::path src = shared / "models/hf/stories260K";
  const fs::path d = freshDir("hf-mutants");
  fs::copy_file(src / "tokenizer.json", d / "tokenizer.json");
  std::ifstream in(src / "model.safetensors", std::ios::binary);
  const std::vector<char> st((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  std::ifstream cin(src / "config.json", std::ios::binary);
  const std::string cfg((std::istreambuf_iterator<char>(cin)), std::istreambuf_iterator<char>());
  uint64_t headerLen;
  std::memcpy(&headerLen, st.data(), 8);
  std::mt19937 rng(777);
  int refused = 0;
  for (int iter = 0; iter < 200; ++iter) {
    auto b = st;
    std::string c = cfg;
    auto mutateDigit = [&](char* text, size_t n) {
      for (int tries = 0; tries < 100; ++tries) {
        const size_t at = rng() % n;
        if (text[at] >= '0' && text[at] <= '9') {
          text[at] = char('0' + rng() % 10);
          return;
        }
      }
    };
    if (iter % 3 == 0)
      mutateDigit(c.data(), c.size());
    else
      for (int k = 0; k < 1 + iter % 3; ++k) mutateDigit(b.data() + 8, size_t(headerLen));
    std::ofstream(d / "model.safetensors", std::ios::binary)
        .write(b.data(), std::streamsize(b.size()));
    std::ofstream(d / "config.json", std::ios::binary) << c;
    try {
      ll::rt::loadModel(d);
    } catch (const FormatError& e) {
      QVERIFY2(std::string(e.what()).find(d.string()) != std::string::npos, e.what());
      ++refused;
    } catch (const std::exception& e) {
      QFAIL("iteration " + std::to_string(iter) + ": non-FormatError exception: " + e.what());
    }
  }
  QVERIFY(refused > 50);
}

LL_TEST_MAIN("tst_bad_model_input")
