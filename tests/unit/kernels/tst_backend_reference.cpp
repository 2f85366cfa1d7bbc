// Hand-computed values for the ops, independent of any backend code: the reference backend (the
// yardstick of tst_backend_ops) and the CPU backend must both reproduce them. Expected numbers
// come from the formulas worked by hand or, for llama3 RoPE, from HF transformers'
// _compute_llama3_parameters transcribed to Python (values quoted below).
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/backends.h"
#include "lltest.h"

using namespace ll::kern;

namespace {

std::vector<std::unique_ptr<Backend>> backends() {
  std::vector<std::unique_ptr<Backend>> v;
  v.push_back(makeReferenceBackend());
  v.push_back(makeCpuBackend(2));
  return v;
}

template <class T>
Buffer up(Backend& b, const std::vector<T>& h) {
  Buffer buf(b, h.size() * sizeof(T));
  b.upload(buf.get(), h.data(), h.size() * sizeof(T));
  return buf;
}

std::vector<float> down(Backend& b, const Buffer& buf, size_t count) {
  std::vector<float> h(count);
  b.sync();
  b.download(h.data(), buf.get(), count * 4);
  return h;
}

void near(Backend& b, const std::vector<float>& got, const std::vector<double>& want, double tol,
          const char* what) {
  QVERIFY2(got.size() == want.size(), std::string(what) + ": size");
  for (size_t i = 0; i < got.size(); ++i)
    QVERIFY2(std::fabs(got[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i])),
             std::string(what) + " [" + b.name() + "] element " + std::to_string(i) + ": got " +
                 std::to_string(got[i]) + ", want " + std::to_string(want[i]));
}

std::vector<float> ropeRun(Backend& b, std::vector<float> x, int pos, int nHead, int headDim,
                           const RopeParams& p) {
  Buffer bx = up(b, x), bp = up(b, std::vector<int32_t>{pos});
  b.rope(bx.f32(), bp.i32(), 1, nHead, headDim, p);
  return down(b, bx, x.size());
}

}  // namespace

LL_TEST(matmulF32AndQ8_0) {
  for (auto& b : backends()) {
    // w = [[1 2 3], [4 5 6]], x = [[1 0 -1], [2 1 0]] -> y = x w^T = [[-2 -2], [4 13]]
    std::vector<float> w = {1, 2, 3, 4, 5, 6};
    auto wt = b->loadWeight({"w", QType::F32, 2, 3, w.data(), w.size() * 4});
    Buffer x = up(*b, std::vector<float>{1, 0, -1, 2, 1, 0}), y(*b, 4 * 4);
    b->matmul(*wt, x.f32(), y.f32(), 2);
    near(*b, down(*b, y, 4), {-2, -2, 4, 13}, 1e-6, "matmul F32");

    // One Q8_0 block: d = 0.5, q_j = j - 16 -> w_j = (j - 16) / 2; x = 1 -> sum = -8.
    std::vector<uint8_t> blk(34);
    const uint16_t d = fp32ToFp16(0.5f);
    std::memcpy(blk.data(), &d, 2);
    for (int j = 0; j < 32; ++j) blk[2 + j] = uint8_t(int8_t(j - 16));
    auto wq = b->loadWeight({"q", QType::Q8_0, 1, 32, blk.data(), blk.size()});
    Buffer x1 = up(*b, std::vector<float>(32, 1.0f)), y1(*b, 4);
    b->matmul(*wq, x1.f32(), y1.f32(), 1);
    near(*b, down(*b, y1, 1), {-8.0}, 1e-6, "matmul Q8_0");
    std::vector<int32_t> id = {0};
    Buffer row(*b, 32 * 4);
    b->getRows(*wq, id.data(), 1, row.f32());
    auto r = down(*b, row, 32);
    near(*b, {r[0], r[31]}, {-8.0, 7.5}, 0, "getRows Q8_0");
  }
}

LL_TEST(norms) {
  for (auto& b : backends()) {
    Buffer x = up(*b, std::vector<float>{3, 4}), y(*b, 8), w = up(*b, std::vector<float>{1, 2});
    b->rmsNorm(x.f32(), w.f32(), y.f32(), 1, 2, 0.0f);  // rms = sqrt(12.5)
    near(*b, down(*b, y, 2), {3 / std::sqrt(12.5), 8 / std::sqrt(12.5)}, 1e-6, "rmsNorm");
    Buffer x3 = up(*b, std::vector<float>{1, 2, 3}), y3(*b, 12),
           bias = up(*b, std::vector<float>{0, 1, 0});
    b->layerNorm(x3.f32(), nullptr, bias.f32(), y3.f32(), 1, 3, 0.0f);  // mean 2, var 2/3
    const double s = std::sqrt(1.5);
    near(*b, down(*b, y3, 3), {-s, 1, s}, 1e-6, "layerNorm");
  }
}

LL_TEST(activations) {
  for (auto& b : backends()) {
    // GELU tanh approximation, values from 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
    Buffer g = up(*b, std::vector<float>{1.0f, -2.0f, 3.5f, 0.0f});
    b->gelu(g.f32(), 4);
    near(*b, down(*b, g, 4), {0.8411919906082768, -0.04540230591222494, 3.499383802344626, 0}, 1e-6,
         "gelu");
    Buffer gate = up(*b, std::vector<float>{1.0f, 0.0f}),
           upv = up(*b, std::vector<float>{2.0f, 5.0f}), y(*b, 8);
    b->swiglu(gate.f32(), upv.f32(), y.f32(), 2);
    near(*b, down(*b, y, 2), {2.0 / (1.0 + std::exp(-1.0)), 0.0}, 1e-6, "swiglu");
    Buffer s = up(*b, std::vector<float>{0.0f, std::log(3.0f)});
    b->sigmoid(s.f32(), 2);
    near(*b, down(*b, s, 2), {0.5, 0.75}, 1e-6, "sigmoid");
  }
}

LL_TEST(ropePairingAndAngles) {
  for (auto& b : backends()) {
    RopeParams p;
    p.nRot = 4;
    p.base = 10000.0f;
    // Pair i rotates by pos * base^(-2i/nRot): i=0 by pos, i=1 by pos/100.
    const int pos = 3;
    auto inter = ropeRun(*b, {1, 0, 1, 0}, pos, 1, 4, p);
    near(*b, inter, {std::cos(3.0), std::sin(3.0), std::cos(0.03), std::sin(0.03)}, 1e-6,
         "rope interleaved");
    p.neox = true;  // pairs (0,2) and (1,3)
    auto neox = ropeRun(*b, {1, 1, 0, 0}, pos, 1, 4, p);
    near(*b, neox, {std::cos(3.0), std::cos(0.03), std::sin(3.0), std::sin(0.03)}, 1e-6,
         "rope neox");
    p.neox = false;
    p.freqScale = 0.5f;  // linear scaling halves every angle
    near(*b, ropeRun(*b, {1, 0, 1, 0}, pos, 1, 4, p),
         {std::cos(1.5), std::sin(1.5), std::cos(0.015), std::sin(0.015)}, 1e-6, "rope freqScale");
  }
}

LL_TEST(ropeLlama3) {
  // base 500000, 128 dims, factor 8, low 1, high 4, original context 8192. HF's
  // _compute_llama3_parameters gives these inverse frequencies (pair index: unscaled -> scaled):
  //   20: 0.016560440080994446 kept (short wavelength)
  //   29: 0.0026160992529250353 -> 0.002166570763503359 (smooth band)
  //   31: 0.0017360467021768655 -> 0.0008567514129196321 (smooth band)
  //   35: 0.0007644969883171747 -> 9.556212353964683e-05 (long wavelength: / 8)
  const std::pair<int, double> freqs[] = {{20, 0.016560440080994446},
                                          {29, 0.002166570763503359},
                                          {31, 0.0008567514129196321},
                                          {35, 9.556212353964683e-05}};
  for (auto& b : backends()) {
    RopeParams p;
    p.nRot = 128;
    p.base = 500000.0f;
    p.llama3Factor = 8.0f;
    const int pos = 1000;
    for (auto [i, f] : freqs) {
      std::vector<float> x(128, 0.0f);
      x[2 * i] = 1.0f;
      auto y = ropeRun(*b, x, pos, 1, 128, p);
      // base 500000 in f32 is exact; tolerance covers f32 output rounding.
      near(*b, {y[2 * i], y[2 * i + 1]}, {std::cos(pos * f), std::sin(pos * f)}, 2e-6,
           ("rope llama3 pair " + std::to_string(i)).c_str());
    }
  }
}

LL_TEST(attentionByHand) {
  for (auto& b : backends()) {
    // nQ 2, nKv 2, headDim 1, 2 query heads sharing 1 kv head, scale 1.
    // k = [0, ln 3]: query row 1 (sees both) with q = 1 -> p = [1/4, 3/4]; row 0 sees key 0 only.
    Buffer q = up(*b, std::vector<float>{1, 1, 1, 1}),
           k = up(*b, std::vector<float>{0, std::log(3.0f)}), v = up(*b, std::vector<float>{2, 6}),
           out(*b, 16), ent(*b, 16), last(*b, 16), col = up(*b, std::vector<float>{10, 10, 10, 10});
    AttnArgs a;
    a.nQ = 2;
    a.nKv = 2;
    a.nHead = 2;
    a.nHeadKv = 1;
    a.headDim = 1;
    a.scale = 1.0f;
    a.q = q.f32();
    a.k = k.f32();
    a.v = v.f32();
    a.out = out.f32();
    a.entropy = ent.f32();
    a.colSum = col.f32();
    a.lastRow = last.f32();
    b->attention(a);
    const double h = 0.5623351446188083;  // -(1/4 ln 1/4 + 3/4 ln 3/4)
    near(*b, down(*b, out, 4), {2, 2, 5, 5}, 1e-6, "attention output");
    near(*b, down(*b, ent, 4), {0, h, 0, h}, 1e-6, "attention entropy");
    near(*b, down(*b, col, 4), {11.25, 10.75, 11.25, 10.75}, 1e-6, "attention colSum (adds)");
    near(*b, down(*b, last, 4), {0.25, 0.75, 0.25, 0.75}, 1e-6, "attention lastRow");
    Buffer map(*b, 16);
    b->attentionMap(a, 1, map.f32());
    near(*b, down(*b, map, 4), {1, 0, 0.25, 0.75}, 1e-6, "attentionMap");

    // Knockout: query 1 blocked from key 0 attends only itself.
    Buffer bq = up(*b, std::vector<uint8_t>{0, 1}), bk = up(*b, std::vector<uint8_t>{1, 0});
    a.blockQ = static_cast<const uint8_t*>(bq.get());
    a.blockK = static_cast<const uint8_t*>(bk.get());
    a.colSum = nullptr;
    b->attention(a);
    near(*b, down(*b, out, 4), {2, 2, 6, 6}, 1e-6, "attention knockout output");
    near(*b, down(*b, ent, 4), {0, 0, 0, 0}, 1e-6, "attention knockout entropy");
    near(*b, down(*b, last, 4), {0, 1, 0, 1}, 1e-6, "attention knockout lastRow");
  }
}

LL_TEST(rowsOps) {
  for (auto& b : backends()) {
    Buffer src = up(*b, std::vector<float>{1, 2, 3, 4, 5, 6}),
           idx = up(*b, std::vector<int32_t>{2, 0, 2}), dst(*b, 24);
    b->gatherRows(src.f32(), idx.i32(), 3, 2, dst.f32());
    near(*b, down(*b, dst, 6), {5, 6, 1, 2, 5, 6}, 0, "gatherRows");
    Buffer acc = up(*b, std::vector<float>{0, 0, 0, 0, 0, 0}),
           sidx = up(*b, std::vector<int32_t>{2, 0}), wts = up(*b, std::vector<float>{0.5f, 2.0f});
    b->scatterAddRows(src.f32(), sidx.i32(), wts.f32(), 2, 2, acc.f32());
    near(*b, down(*b, acc, 6), {6, 8, 0, 0, 0.5, 1}, 0, "scatterAddRows");
    Buffer x = up(*b, std::vector<float>{1, 1, 1, 1, 1, 1}), vec = up(*b, std::vector<float>{1, 2});
    b->addRowVector(x.f32(), vec.f32(), 0.5f, 1, 3, 2);
    near(*b, down(*b, x, 6), {1, 1, 1.5, 2, 1.5, 2}, 0, "addRowVector from row 1");
  }
}

LL_TEST_MAIN("tst_backend_reference")
