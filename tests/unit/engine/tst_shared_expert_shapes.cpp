// Shared-expert FFN shapes from untrusted files: a gate projection with more rows than the up
// projection (no expert_shared_feed_forward_length key to pin them) is rejected at load instead of
// overflowing the engine's FFN scratch (sized by the up rows) when the gate matmul writes its rows.
#include <unistd.h>

#include <stdexcept>

#include "fixture_writer.h"
#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/model/model.h"

namespace fs = std::filesystem;
using namespace ll::rt;

namespace {

constexpr int kEmbd = 64, kHead = 4, kFfExp = 32, kExperts = 4;

// qwen2moe, two MoE layers; only layer 1 has a shared expert, so the loader cannot take its size
// from blk.0. gateRows != upRows makes the file inconsistent.
fs::path writeFixture(const fs::path& vocabFrom, int gateRows, int upRows) {
  lltest::GgufWriter w;
  w.addString("general.architecture", "qwen2moe");
  w.addString("general.name", "shexp-shape-fixture");
  w.addU32("qwen2moe.context_length", 64);
  w.addU32("qwen2moe.embedding_length", kEmbd);
  w.addU32("qwen2moe.block_count", 2);
  w.addU32("qwen2moe.feed_forward_length", kFfExp);
  w.addU32("qwen2moe.attention.head_count", kHead);
  w.addU32("qwen2moe.attention.head_count_kv", kHead);
  w.addU32("qwen2moe.rope.dimension_count", kEmbd / kHead);
  w.addF32("qwen2moe.rope.freq_base", 10000.0f);
  w.addF32("qwen2moe.attention.layer_norm_rms_epsilon", 1e-5f);
  w.addU32("qwen2moe.expert_count", kExperts);
  w.addU32("qwen2moe.expert_used_count", 2);
  w.addU32("qwen2moe.expert_feed_forward_length", kFfExp);
  w.copyMetadata(vocabFrom, "tokenizer.ggml.");
  const int vocab = 512;
  uint64_t seed = 7;
  auto mat = [&](const std::string& name, std::vector<int64_t> ne) {
    size_t n = 1;
    for (auto v : ne) n *= size_t(v);
    const uint64_t s = seed++;
    w.addTensor(name, 0, ne, [=] { return lltest::encodeF32(lltest::randomValues(n, 0.05f, s)); });
  };
  auto vec = [&](const std::string& name, int64_t n) {
    w.addTensor(name, 0, {n}, [=] { return lltest::encodeF32(std::vector<float>(n, 1.0f)); });
  };
  mat("token_embd.weight", {kEmbd, vocab});
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    vec(b + "attn_norm.weight", kEmbd);
    mat(b + "attn_q.weight", {kEmbd, kEmbd});
    mat(b + "attn_k.weight", {kEmbd, kEmbd});
    mat(b + "attn_v.weight", {kEmbd, kEmbd});
    mat(b + "attn_output.weight", {kEmbd, kEmbd});
    for (const char* bias : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) vec(b + bias, kEmbd);
    vec(b + "ffn_norm.weight", kEmbd);
    mat(b + "ffn_gate_inp.weight", {kEmbd, kExperts});
    mat(b + "ffn_gate_exps.weight", {kEmbd, kFfExp, kExperts});
    mat(b + "ffn_up_exps.weight", {kEmbd, kFfExp, kExperts});
    mat(b + "ffn_down_exps.weight", {kFfExp, kEmbd, kExperts});
    if (l == 1) {
      mat(b + "ffn_gate_inp_shexp.weight", {kEmbd});
      mat(b + "ffn_gate_shexp.weight", {kEmbd, gateRows});
      mat(b + "ffn_up_shexp.weight", {kEmbd, upRows});
      mat(b + "ffn_down_shexp.weight", {gateRows, kEmbd});
    }
  }
  vec("output_norm.weight", kEmbd);
  mat("output.weight", {kEmbd, vocab});
  const fs::path p = fs::temp_directory_path() /
                     ("ll_shexp_" + std::to_string(getpid()) + "_" + std::to_string(gateRows) +
                      "_" + std::to_string(upRows) + ".gguf");
  w.write(p);
  return p;
}

}  // namespace

LL_TEST(consistentSharedExpertRuns) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const fs::path p = writeFixture(shared / "models" / "stories260K.gguf", kFfExp, kFfExp);
  Session s;
  s.load(p, BackendChoice{"cpu", 2});
  s.setPromptIds({1, 5, 9, 20, 33});
  auto tr = s.run();
  fs::remove(p);
  QCOMPARE(tr->nTokens, 5);
  for (float v : tr->logits) QVERIFY(std::isfinite(v));
}

LL_TEST(sharedGateWiderThanUpIsRejected) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const fs::path p = writeFixture(shared / "models" / "stories260K.gguf", 3 * kFfExp, kFfExp);
  bool rejected = false;
  try {
    Session s;
    s.load(p, BackendChoice{"cpu", 2});
    s.setPromptIds({1, 5, 9, 20, 33});
    s.run();  // before the fix: the shared gate matmul wrote 96 floats per row into 32
  } catch (const std::runtime_error& e) {
    rejected = std::string(e.what()).find("ffn_up_shexp") != std::string::npos;
    if (!rejected) std::printf("unexpected error: %s\n", e.what());
  }
  fs::remove(p);
  QVERIFY(rejected);
}

LL_TEST_MAIN("tst_shared_expert_shapes")
