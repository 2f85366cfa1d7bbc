// Device memory planning (runtime/engine/device_plan.h), no GPU needed: a Llama-3.2-1B-shaped bf16
// model counted tensor by tensor, the context that fits a given free size, and the message when
// the weights do not fit; a real fixture's plan against its file; on a GPU, the live plan fits.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "kernels/backends.h"
#include "lltest.h"
#include "runtime/engine/device_plan.h"
#include "runtime/model/model.h"

using namespace ll::rt;

namespace {

constexpr size_t kGiB = size_t(1) << 30;

void addTensor(Model& m, const std::string& name, std::vector<int64_t> ne, size_t bytesPerElem) {
  TensorData t;
  t.name = name;
  t.type = bytesPerElem == 4 ? ll::kern::QType::F32 : ll::kern::QType::BF16;
  t.ne = ne;
  size_t n = 1;
  for (int64_t x : ne) n *= size_t(x);
  t.nbytes = n * bytesPerElem;
  m.weights.add(std::move(t));
}

// Llama-3.2-1B shapes (16 layers, 2048 dim, 32 heads / 8 kv heads of 64, FFN 8192, vocabulary
// 128256), bf16 matrices and f32 norms; expected device bytes summed independently here.
Model llama1b(size_t* expectWeights) {
  Model m;
  m.path = "llama-1b-shaped.gguf";
  m.spec.nLayer = 16;
  m.spec.nEmbd = 2048;
  m.spec.nHead = 32;
  m.spec.nHeadKv = 8;
  m.spec.headDim = 64;
  m.spec.nFf = 8192;
  m.spec.nVocab = 128256;
  m.spec.nCtx = 131072;
  addTensor(m, "token_embd.weight", {2048, 128256}, 2);
  addTensor(m, "output_norm.weight", {2048}, 4);
  for (int l = 0; l < 16; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    addTensor(m, b + "attn_norm.weight", {2048}, 4);
    addTensor(m, b + "ffn_norm.weight", {2048}, 4);
    addTensor(m, b + "attn_q.weight", {2048, 2048}, 2);
    addTensor(m, b + "attn_k.weight", {2048, 512}, 2);
    addTensor(m, b + "attn_v.weight", {2048, 512}, 2);
    addTensor(m, b + "attn_output.weight", {2048, 2048}, 2);
    addTensor(m, b + "ffn_gate.weight", {2048, 8192}, 2);
    addTensor(m, b + "ffn_up.weight", {2048, 8192}, 2);
    addTensor(m, b + "ffn_down.weight", {8192, 2048}, 2);
  }
  const size_t layer = (2 * 2048 * 2048 + 2 * 512 * 2048 + 3 * 8192 * 2048) * 2 + 2 * 2048 * 4;
  // Vectors (norms) are stored twice on the device: file bytes and an f32 copy.
  *expectWeights = size_t(128256) * 2048 * 2 + 2 * 2048 * 4 + 16 * (layer + 2 * 2048 * 4);
  return m;
}

// A small fixture of ../shared (the GPU machine may carry only a subset of it).
std::unique_ptr<Model> smallFixture() {
  const auto shared = LL_REQUIRE_SHARED();
  for (const char* f : {"models/llama-gqa-f16.gguf", "models/quant/llama-quant-F16.gguf"})
    if (std::filesystem::exists(shared / f)) return loadModel(shared / f);
  QSKIP("neither llama-gqa-f16.gguf nor llama-quant-F16.gguf in " + shared.string());
}

}  // namespace

LL_TEST(llamaShapedCounts) {
  size_t expect = 0;
  const Model m = llama1b(&expect);
  const DeviceMemoryPlan p = planDeviceMemory(m, 80 * kGiB, 512);
  QCOMPARE(p.weightBytes, expect);
  // KV cache alone: 2 (K, V) x 16 layers x 512 floats per token.
  QVERIFY(p.perTokenBytes > size_t(2 * 16 * 512 * 4));
  QVERIFY2(p.perTokenBytes < size_t(1) << 20, std::to_string(p.perTokenBytes));
  QVERIFY(p.fits);
  QVERIFY(p.message.empty());
  QVERIFY(p.maxTokens > 100000);
  // Exactly 1000 tokens of room: the division is not off by one either way.
  const size_t fixed = p.weightBytes + p.reserveBytes;
  const DeviceMemoryPlan q = planDeviceMemory(m, fixed + 1000 * p.perTokenBytes, 1000);
  QCOMPARE(q.maxTokens, int64_t(1000));
  QVERIFY(q.fits);
  const DeviceMemoryPlan r = planDeviceMemory(m, fixed + 1000 * p.perTokenBytes - 1, 1000);
  QCOMPARE(r.maxTokens, int64_t(999));
  QVERIFY(!r.fits);
}

LL_TEST(tooSmallGivesMessage) {
  size_t expect = 0;
  const Model m = llama1b(&expect);
  for (size_t freeBytes : {size_t(0), size_t(2) * kGiB, expect}) {
    const DeviceMemoryPlan p = planDeviceMemory(m, freeBytes, 512);
    QVERIFY(!p.fits);
    QCOMPARE(p.maxTokens, int64_t(0));
    QVERIFY2(p.message.find("llama-1b-shaped.gguf does not fit in GPU memory") == 0, p.message);
    QVERIFY2(p.message.find("using the CPU backend") != std::string::npos, p.message);
    QVERIFY2(p.message.find("weights 2.") != std::string::npos, p.message);  // 2.3 GiB
  }
}

LL_TEST(fixtureAgainstFile) {
  auto m = smallFixture();
  size_t tensorBytes = 0;
  for (const auto& [name, t] : m->weights.all()) tensorBytes += t.nbytes;
  QVERIFY(tensorBytes > 0 && tensorBytes <= m->fileBytes);
  const DeviceMemoryPlan p = planDeviceMemory(*m, 4 * kGiB, 512);
  QVERIFY(p.weightBytes >= tensorBytes);
  QVERIFY(p.weightBytes < tensorBytes + (size_t(1) << 20));  // + f32 copies of the vectors
  QVERIFY(p.fits);
  QVERIFY(!planDeviceMemory(*m, 256 << 20, 512).fits);  // below the runtime reserve
}

// On a GPU: the plan of a small fixture against the device's real free memory fits.
LL_TEST(livePlanOnGpu) {
  std::string why;
  auto b = ll::kern::makeCudaBackend(&why);
  if (!b) QSKIP("no CUDA backend: " + why);
  auto m = smallFixture();
  const DeviceMemoryPlan p = planDeviceMemory(*m, b->freeMemory(), 512);
  QVERIFY2(p.fits, p.message);
}

LL_TEST_MAIN("tst_device_plan")
