// loadModel on every model in shared/models (GGUF, HF folders, llama2.c): specs match the
// independent reference model.json files, HF and llama2.c weights equal their GGUF twins after
// conversion, and broken or unsupported models fail with a message naming the file.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../formats/gguf_builder.h"
#include "lltest.h"
#include "not_yet_supported.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using namespace ll;

namespace {

nlohmann::json readJson(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::vector<float> toF32(const rt::TensorData& t) {
  int64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  const size_t rb = kern::rowBytes(t.type, t.ne[0]);
  for (int64_t r = 0; r < n / t.ne[0]; ++r)
    kern::dequantizeRow(t.type, t.data + r * rb, out.data() + r * t.ne[0], t.ne[0]);
  return out;
}

template <class F>
std::string formatErrorOf(F&& f) {
  try {
    f();
  } catch (const rt::FormatError& e) {
    return e.what();
  }
  return "";
}

fs::path tempDir() {
  fs::path d = fs::temp_directory_path() / ("ll_tst_load_model_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
// Removes the temp dir when the test binary exits.
const struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(tempDir(), ec);
  }
} kCleanup;

void checkSpec(const rt::ModelSpec& s, const nlohmann::json& ref, const std::string& what,
               bool ctx) {
  auto i = [&](const char* k) { return ref[k].get<int>(); };
  QVERIFY2(s.arch == ref["arch"].get<std::string>(), what);
  QCOMPARE(s.nLayer, i("n_layer"));
  QCOMPARE(s.nEmbd, i("n_embd"));
  QCOMPARE(s.nHead, i("n_head"));
  QCOMPARE(s.nHeadKv, i("n_head_kv"));
  QCOMPARE(s.nVocab, i("n_vocab"));
  QCOMPARE(s.headDim, ref.contains("head_dim") ? i("head_dim") : s.nEmbd / s.nHead);
  if (ctx) QCOMPARE(s.nCtx, i("n_ctx_train"));
  const int nExpert = ref.contains("n_expert") ? i("n_expert") : 0;
  QCOMPARE(s.nExpert, nExpert);
  if (nExpert > 0) {
    QCOMPARE(s.nExpertUsed, i("n_expert_used"));
    QCOMPARE(s.nFfExpert, ref.contains("n_ff_exp") ? i("n_ff_exp") : i("n_ff"));
    QCOMPARE(s.nFfShexp, ref.contains("n_ff_shexp") ? i("n_ff_shexp") : 0);
    QCOMPARE(s.nFf, 0);
    // reference/README.md: llama renormalises the top-k weights, qwen2moe/olmoe do not; the newer
    // entries state it (gpt-oss's softmax over the k chosen logits is the same renormalisation).
    QCOMPARE(s.expertWeightsNorm, ref.value("expert_weights_renormalised", s.arch == "llama") ||
                                      s.arch == "gpt-oss");
  } else {
    QCOMPARE(s.nFf, i("n_ff"));
  }
  const char* epsKey = ref.contains("rms_eps") ? "rms_eps" : "ln_eps";
  QCOMPARE(double(s.normEps), ref[epsKey].get<double>());
  QCOMPARE(s.norm, ref.contains("rms_eps") ? rt::NormKind::RmsNorm : rt::NormKind::LayerNorm);
  if (ref.contains("rope_freq_base"))
    QCOMPARE(double(s.rope.base), ref["rope_freq_base"].get<double>());
  // reference/README.md: llama interleaved pairs, qwen2/qwen2moe/olmoe NEOX, gpt2 learned
  // positions.
  QCOMPARE(s.hasRope, s.arch != "gpt2");
  QCOMPARE(s.learnedPos, s.arch == "gpt2");
  if (s.hasRope) QCOMPARE(s.rope.neox, s.arch != "llama");
  QCOMPARE(s.qkvBias, s.arch == "qwen2" || s.arch == "qwen2moe" || s.arch == "gpt2" ||
                          s.arch == "gpt-oss");
  // The newer families' features, as model.json states them.
  if (ref.contains("attn_scale"))
    QVERIFY2(std::fabs(s.layerAttnScale() - ref["attn_scale"].get<double>()) < 1e-6, what);
  std::vector<int> swa;
  if (ref.contains("swa_layers")) swa = ref["swa_layers"].get<std::vector<int>>();
  for (int l = 0; l < s.nLayer; ++l)
    QCOMPARE(s.layerWindow(l) > 0, std::find(swa.begin(), swa.end(), l) != swa.end());
  if (ref.contains("sliding_window")) QCOMPARE(s.window, ref["sliding_window"].get<int>());
  QCOMPARE(double(s.attnSoftcap), ref.value("attn_logit_softcapping", 0.0));
  QCOMPARE(double(s.finalSoftcap), ref.value("final_logit_softcapping", 0.0));
  QCOMPARE(double(s.embdScale), ref.value("embedding_scale", 0.0));
  QCOMPARE(s.attnSinks, ref.value("attention_sinks", false));
  if (ref.contains("rope_freq_base_per_layer"))
    for (int l = 0; l < s.nLayer; ++l) {
      QCOMPARE(double(s.layerRope(l).base), ref["rope_freq_base_per_layer"][l].get<double>());
      QCOMPARE(double(s.layerRope(l).freqScale), ref["rope_freq_scale_per_layer"][l].get<double>());
    }
  if (ref.contains("rope_attn_factor"))
    QVERIFY(std::fabs(s.rope.attnFactor - ref["rope_attn_factor"].get<double>()) < 1e-6);
  QCOMPARE(s.qkNorm == rt::QkNorm::Full, s.arch == "olmoe");
  QCOMPARE(s.qkNorm == rt::QkNorm::PerHead,
           s.arch == "qwen3" || s.arch == "qwen3moe" || s.arch == "gemma3");
}

// Every tensor of `other` equals the GGUF twin's tensor of the same name (after dequantizing to
// f32; bytes identical when the types agree).
void checkSameWeights(const rt::Model& other, const rt::Model& gguf, bool allowF16Rounding) {
  int compared = 0;
  for (const auto& [name, t] : other.weights.all()) {
    const rt::TensorData* g = gguf.weights.find(name);
    QVERIFY2(g != nullptr, name);
    QVERIFY2(g->ne == t.ne, name);
    if (g->type == t.type) {
      QVERIFY2(g->nbytes == t.nbytes && std::memcmp(g->data, t.data, t.nbytes) == 0, name);
    } else {
      QVERIFY2(allowF16Rounding, name + " type differs");
      auto a = toF32(t), b = toF32(*g);
      for (size_t k = 0; k < a.size(); ++k)
        QVERIFY2(
            kern::fp16ToFp32(kern::fp32ToFp16(a[k])) == kern::fp16ToFp32(kern::fp32ToFp16(b[k])),
            name);
    }
    ++compared;
  }
  QVERIFY(compared > 10);
  // A tied model's LM head is its embedding: it must equal the twin's output.weight when it has
  // one.
  if (other.spec.tiedOutput && !gguf.spec.tiedOutput) {
    auto e = toF32(other.weights.get("token_embd.weight")),
         o = toF32(gguf.weights.get("output.weight"));
    QVERIFY(e == o);
  }
}

}  // namespace

LL_TEST(everyReferencedModelLoadsWithMatchingSpec) {
  const fs::path shared = LL_REQUIRE_SHARED();
  int loaded = 0;
  for (const auto& e : fs::directory_iterator(shared / "reference")) {
    if (!fs::exists(e.path() / "model.json")) continue;
    auto ref = readJson(e.path() / "model.json");
    if (const std::string why = lltest::notYetSupportedReason(ref); !why.empty()) {
      lltest::reportNotYetSupported("everyReferencedModelLoadsWithMatchingSpec", ref["model_file"],
                                    why);
      continue;
    }
    std::vector<std::string> files = {ref["model_file"].get<std::string>()};
    for (const auto& a : ref["also_valid_for"]) files.push_back(a.get<std::string>());
    for (const auto& f : files) {
      auto m = rt::loadModel(shared / f);
      QVERIFY(m->tokenizer != nullptr);
      QCOMPARE(m->tokenizer->vocabSize(), m->spec.nVocab);
      // HF and llama2.c stories260K declare their own (shorter) context; the GGUF's 2048 is the
      // reference's.
      checkSpec(m->spec, ref, f, m->format == "gguf");
      if (m->format == "gguf") {
        int total = 0;
        for (const auto& [k, v] : m->spec.tensorTypeCounts) {
          QCOMPARE(v, ref["tensor_types"][k].get<int>());
          total += v;
        }
        QCOMPARE(total, ref["n_tensors"].get<int>());
        QCOMPARE(m->fileBytes, uint64_t(fs::file_size(shared / f)));
      }
      ++loaded;
    }
  }
  QVERIFY(loaded >= 25);
}

LL_TEST(hfFoldersEqualTheirGgufTwins) {
  const fs::path shared = LL_REQUIRE_SHARED();
  auto gguf = rt::loadModel(shared / "models/stories260K.gguf");
  for (const char* dir : {"hf/stories260K", "hf/stories260K-sharded"}) {
    auto hf = rt::loadModel(shared / "models" / dir);
    QCOMPARE(hf->format, std::string("hf"));
    checkSameWeights(*hf, *gguf, false);
  }
  auto sharded = rt::loadModel(shared / "models/hf/stories260K-sharded");
  QVERIFY(!sharded->spec.tiedOutput);
  QVERIFY(rt::loadModel(shared / "models/hf/stories260K")->spec.tiedOutput);
  // A file of the folder stands for the folder.
  auto viaFile = rt::loadModel(shared / "models/hf/stories260K/model.safetensors");
  QCOMPARE(viaFile->format, std::string("hf"));
  QCOMPARE(viaFile->path, shared / "models/hf/stories260K");
  auto gpt2 = rt::loadModel(shared / "models/gpt2-tiny-f16.gguf");
  auto gpt2hf = rt::loadModel(shared / "models/hf/gpt2-tiny");
  QVERIFY(gpt2hf->spec.tiedOutput);
  checkSameWeights(*gpt2hf, *gpt2, true);
}

LL_TEST(llama2cEqualsGguf) {
  const fs::path shared = LL_REQUIRE_SHARED();
  auto gguf = rt::loadModel(shared / "models/stories260K.gguf");
  auto l2c = rt::loadModel(shared / "models/llama2c/stories260K.bin");
  QCOMPARE(l2c->format, std::string("llama2c"));
  QCOMPARE(l2c->spec.nCtx, 512);
  QVERIFY(l2c->spec.tiedOutput);
  checkSameWeights(*l2c, *gguf, false);
  QCOMPARE(l2c->weights.all().size() + 1, gguf->weights.all().size());  // + output.weight
}

LL_TEST(vocabOnlyGgufIsRefused) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const fs::path p = shared / "models/vocab/ggml-vocab-gpt-2.gguf";
  const std::string msg = formatErrorOf([&] { rt::loadModel(p); });
  QVERIFY2(msg.find("ggml-vocab-gpt-2.gguf") != std::string::npos &&
               msg.find("no tensors") != std::string::npos,
           msg);
}

LL_TEST(tinySyntheticModelLoads) {
  const fs::path p = tempDir() / "tiny.gguf";
  lltest::tinyLlama().write(p);
  auto m = rt::loadModel(p);
  QCOMPARE(m->spec.nLayer, 2);
  QCOMPARE(m->spec.headDim, 8);
  QCOMPARE(m->spec.rope.nRot, 8);
  QCOMPARE(m->spec.nVocab, 16);
  QVERIFY(!m->spec.tiedOutput);
  fs::remove(p);
}

LL_TEST(unknownArchitectureNamesSupportedOnes) {
  auto g = lltest::tinyLlama();
  auto bytes = g.build();
  // Same length as "llama" so the file stays valid: "mamba".
  const std::string needle = "llama";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  std::memcpy(&*it, "mamba", 5);
  const fs::path p = tempDir() / "mamba.gguf";
  lltest::GgufBuilder::writeBytes(p, bytes);
  const std::string msg = formatErrorOf([&] { rt::loadModel(p); });
  QVERIFY2(msg.find("mamba.gguf") != std::string::npos &&
               msg.find("'mamba'") != std::string::npos &&
               msg.find("llama, qwen2, gpt2, qwen2moe, olmoe") != std::string::npos,
           msg);
  fs::remove(p);
}

LL_TEST(missingAndMisshapedTensorsAreNamed) {
  auto g = lltest::tinyLlama();
  g.tensors.erase(std::remove_if(g.tensors.begin(), g.tensors.end(),
                                 [](const auto& t) { return t.name == "blk.1.attn_k.weight"; }),
                  g.tensors.end());
  for (auto& t : g.tensors)
    if (t.name == "blk.0.ffn_up.weight") {
      t.ne = {32, 32};
      t.data.resize(32 * 32 * 4);
    }
  const fs::path p = tempDir() / "incomplete.gguf";
  g.write(p);
  const std::string msg = formatErrorOf([&] { rt::loadModel(p); });
  QVERIFY2(msg.find("incomplete.gguf") != std::string::npos, msg);
  QVERIFY2(msg.find("missing blk.1.attn_k.weight [32, 16]") != std::string::npos, msg);
  QVERIFY2(
      msg.find("blk.0.ffn_up.weight has shape [32, 32], expected [32, 64]") != std::string::npos,
      msg);
  fs::remove(p);
}

LL_TEST(progressAndCancel) {
  const fs::path p = tempDir() / "tiny.gguf";
  lltest::tinyLlama().write(p);
  std::vector<std::string> phases;
  float last = -1;
  bool monotonic = true;
  rt::loadModel(p, [&](float f, const std::string& phase) {
    monotonic = monotonic && f >= last;
    last = f;
    phases.push_back(phase);
    return true;
  });
  QVERIFY(monotonic);
  QVERIFY(phases.size() >= 3);
  QCOMPARE(last, 1.0f);
  bool cancelled = false;
  try {
    rt::loadModel(p, [](float f, const std::string&) { return f < 0.3f; });
  } catch (const rt::LoadCancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
  fs::remove(p);
}

LL_TEST(nonexistentAndUnknownFiles) {
  QVERIFY(formatErrorOf([] {
            rt::loadModel("/nonexistent/model.gguf");
          }).find("/nonexistent/model.gguf") != std::string::npos);
  const fs::path p = tempDir() / "notes.txt";
  std::ofstream(p) << "hello";
  QVERIFY(formatErrorOf([&] { rt::loadModel(p); }).find("unrecognised") != std::string::npos);
  fs::remove(p);
}

LL_TEST_MAIN("tst_load_model")
