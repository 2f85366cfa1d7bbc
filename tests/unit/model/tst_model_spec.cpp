// ModelSpec from GGUF metadata: RoPE scaling (linear, llama3 keys, rope_freqs tensor), head dim
// from key_length, expert-weight normalisation rules, and precise errors for bad hyperparameters.
#include <unistd.h>

#include <cmath>

#include "../formats/gguf_builder.h"
#include "lltest.h"
#include "runtime/model/arch.h"
#include "runtime/model/loaders.h"
#include "runtime/model/spec_check.h"

namespace fs = std::filesystem;
using namespace ll;
using lltest::GgufBuilder;

namespace {

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() /
         ("ll_tst_model_spec_" + std::to_string(::getpid()) + "_" + name);
}

rt::ModelSpec specOf(const GgufBuilder& g, const std::string& name = "spec.gguf") {
  const fs::path p = tmp(name);
  g.write(p);
  struct Rm {
    fs::path p;
    ~Rm() { fs::remove(p); }
  } rm{p};
  auto f = rt::GgufFile::open(p);
  rt::ModelSpec s = rt::specFromGguf(*f);
  rt::validateSpec(s, p);
  return s;
}

std::string errorOf(const GgufBuilder& g) {
  try {
    specOf(g, "err.gguf");
  } catch (const rt::FormatError& e) {
    return e.what();
  }
  return "";
}

GgufBuilder base(const std::string& arch = "llama") {
  GgufBuilder g;
  g.kvString("general.architecture", arch);
  g.kvU32(arch + ".block_count", 2);
  g.kvU32(arch + ".embedding_length", 64);
  g.kvU32(arch + ".attention.head_count", 4);
  g.kvU32(arch + ".feed_forward_length", 128);
  g.kvU32(arch + ".context_length", 256);
  g.kvStringArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  return g;
}

// Meta's llama3 apply_scaling, written out independently of the loader.
std::vector<float> llama3Divisors(int nRot, double base, double factor, double low, double high,
                                  double orig) {
  std::vector<float> out;
  for (int i = 0; i < nRot / 2; ++i) {
    const double freq = std::pow(base, -2.0 * i / nRot);
    const double wavelen = 2 * M_PI / freq;
    double scaled;
    if (wavelen < orig / high) {
      scaled = freq;
    } else if (wavelen > orig / low) {
      scaled = freq / factor;
    } else {
      const double smooth = (orig / wavelen - low) / (high - low);
      scaled = (1 - smooth) * freq / factor + smooth * freq;
    }
    out.push_back(float(freq / scaled));
  }
  return out;
}

}  // namespace

LL_TEST(defaults) {
  auto s = specOf(base());
  QCOMPARE(s.arch, std::string("llama"));
  QCOMPARE(s.nHeadKv, 4);
  QCOMPARE(s.headDim, 16);
  QCOMPARE(s.rope.nRot, 16);
  QCOMPARE(s.rope.base, 10000.0f);
  QCOMPARE(s.rope.freqScale, 1.0f);
  QCOMPARE(s.rope.llama3Factor, 0.0f);
  QCOMPARE(s.nVocab, 3);
  QVERIFY(s.tiedOutput);  // no output.weight in this file
  QCOMPARE(rt::supportedArchitectures().size(), size_t(11));
  QCOMPARE(rt::supportedArchitecturesText(),
           std::string("llama, qwen2, gpt2, qwen2moe, olmoe, qwen3, qwen3moe, gemma2, gemma3, phi3, "
                       "gpt-oss"));
}

LL_TEST(headDimFromKeyLength) {
  auto g = base();
  g.kvU32("llama.attention.key_length", 32);
  auto s = specOf(g);
  QCOMPARE(s.headDim, 32);
  QCOMPARE(s.rope.nRot, 32);
  // The expected q projection follows: [nEmbd, nHead * headDim].
  for (const auto& e : rt::expectedTensors(s))
    if (e.name == "blk.0.attn_q.weight") QVERIFY(e.ne == std::vector<int64_t>({64, 128}));
}

LL_TEST(linearRopeScaling) {
  auto g = base();
  g.kvString("llama.rope.scaling.type", "linear");
  g.kvF32("llama.rope.scaling.factor", 4.0f);
  g.kvF32("llama.rope.freq_base", 500000.0f);
  auto s = specOf(g);
  QCOMPARE(s.rope.freqScale, 0.25f);
  QCOMPARE(s.rope.base, 500000.0f);
}

LL_TEST(llama3ScalingKeys) {
  auto g = base();
  g.kvString("llama.rope.scaling.type", "llama3");
  g.kvF32("llama.rope.scaling.factor", 32.0f);
  g.kvF32("llama.rope.scaling.low_freq_factor", 2.0f);
  g.kvF32("llama.rope.scaling.high_freq_factor", 8.0f);
  g.kvU32("llama.rope.scaling.original_context_length", 4096);
  auto s = specOf(g);
  QCOMPARE(s.rope.llama3Factor, 32.0f);
  QCOMPARE(s.rope.llama3LowFreqFactor, 2.0f);
  QCOMPARE(s.rope.llama3HighFreqFactor, 8.0f);
  QCOMPARE(s.rope.llama3OrigCtx, 4096);
}

LL_TEST(llama3RopeFreqsTensor) {
  // As llama.cpp's converter writes Llama 3.1: no scaling keys, a rope_freqs.weight tensor.
  auto g = base();
  g.kvF32("llama.rope.freq_base", 500000.0f);
  auto div = llama3Divisors(16, 500000.0, 8.0, 1.0, 4.0, 8192.0);
  QVERIFY(div.front() == 1.0f && div.back() == 8.0f);  // both regimes and the smooth band occur
  GgufBuilder::Tensor t{"rope_freqs.weight", {8}, 0, {}, {}};
  for (float x : div) GgufBuilder::put(t.data, x);
  g.tensors.push_back(t);
  auto s = specOf(g);
  QCOMPARE(s.rope.llama3Factor, 8.0f);
  QCOMPARE(s.rope.llama3OrigCtx, 8192);
  QCOMPARE(s.rope.llama3LowFreqFactor, 1.0f);
  QCOMPARE(s.rope.llama3HighFreqFactor, 4.0f);
  // A tensor that no llama3 parameters explain is refused rather than silently ignored.
  g.tensors.back().data.assign(8 * 4, 0);
  for (int i = 0; i < 8; ++i) {
    float x = 1.0f + float(i);
    std::memcpy(g.tensors.back().data.data() + 4 * i, &x, 4);
  }
  QVERIFY(errorOf(g).find("rope_freqs.weight does not match llama3") != std::string::npos);
}

LL_TEST(llamaWithAttentionBiases) {
  auto g = base();
  QVERIFY(!specOf(g).qkvBias);
  g.addF32("blk.0.attn_q.bias", {64});
  auto s = specOf(g);
  QVERIFY(s.qkvBias);
  bool needsBias = false;
  for (const auto& e : rt::expectedTensors(s))
    needsBias = needsBias || e.name == "blk.1.attn_v.bias";
  QVERIFY(needsBias);
}

LL_TEST(unsupportedRopeScaling) {
  auto g = base();
  g.kvString("llama.rope.scaling.type", "dynamic");
  const std::string m = errorOf(g);
  QVERIFY2(m.find("err.gguf") != std::string::npos &&
               m.find("unsupported rope scaling 'dynamic'") != std::string::npos,
           m);
}

LL_TEST(expertWeightRules) {
  auto moe = [](const std::string& arch) {
    auto g = base(arch);
    g.kvU32(arch + ".expert_count", 8);
    g.kvU32(arch + ".expert_used_count", 2);
    return g;
  };
  auto s = specOf(moe("llama"));
  QVERIFY(s.expertWeightsNorm);
  QCOMPARE(s.nFfExpert, 128);
  QCOMPARE(s.nFf, 0);
  QVERIFY(!specOf(moe("olmoe")).expertWeightsNorm);
  QVERIFY(!specOf(moe("qwen2moe")).expertWeightsNorm);
  auto g = moe("qwen2moe");
  g.kvRaw("qwen2moe.expert_weights_norm", GgufBuilder::BOOL, {1});
  g.kvU32("qwen2moe.expert_feed_forward_length", 32);
  g.kvU32("qwen2moe.expert_shared_feed_forward_length", 96);
  s = specOf(g);
  QVERIFY(s.expertWeightsNorm);
  QCOMPARE(s.nFfExpert, 32);
  QCOMPARE(s.nFfShexp, 96);
  // Experts on an architecture without MoE in the table are not picked up.
  auto q = base("qwen2");
  q.kvU32("qwen2.expert_count", 8);
  QCOMPARE(specOf(q).nExpert, 0);
}

LL_TEST(badHyperparameters) {
  GgufBuilder g;
  g.kvString("general.architecture", "llama");
  QVERIFY(errorOf(g).find("missing metadata key 'llama.block_count'") != std::string::npos);
  auto b = base();
  b.kvU32("llama.attention.head_count_kv", 3);
  QVERIFY(errorOf(b).find("n_head_kv = 3") != std::string::npos ||
          errorOf(b).find("not a multiple of n_head_kv 3") != std::string::npos);
  b = base();
  b.kvString("llama.rope.dimension_count", "eight");
  QVERIFY(errorOf(b).find("'llama.rope.dimension_count' is not an integer") != std::string::npos);
  GgufBuilder h;
  h.kvString("general.architecture", "llama");
  h.kvU32("llama.block_count", 2);
  h.kvU32("llama.embedding_length", 64);
  h.kvU32("llama.attention.head_count", 0);
  QVERIFY2(errorOf(h).find("not a multiple of head_count 0") != std::string::npos, errorOf(h));
  GgufBuilder
      c;  // context_length far beyond any model: refused before anything sizes a cache by it
  c.kvString("general.architecture", "llama");
  c.kvU32("llama.block_count", 2);
  c.kvU32("llama.embedding_length", 64);
  c.kvU32("llama.attention.head_count", 4);
  c.kvU32("llama.feed_forward_length", 128);
  c.kvU32("llama.context_length", 0xFFFFFFFF);
  QVERIFY2(
      errorOf(c).find("'llama.context_length' is out of range: 4294967295") != std::string::npos,
      errorOf(c));
  c = base();
  c.kvRaw("general.alignment", GgufBuilder::U32, {0, 0, 0, 0});
  QVERIFY2(errorOf(c).find("power of two") != std::string::npos, errorOf(c));
  GgufBuilder noArch;
  QVERIFY(errorOf(noArch).find("missing general.architecture") != std::string::npos);
}

LL_TEST_MAIN("tst_model_spec")
