// The op checks must catch a broken backend: a CPU backend wrapped with one deliberate fault at a
// time (out-of-bounds write, unwritten rows, wrong RoPE pairing, missing statistics, ...) has to
// fail the corresponding check in tests/support/backend_checks.
#include <functional>
#include <memory>

#include "backend_checks.h"
#include "kernels/backends.h"
#include "lltest.h"

using namespace ll::kern;
using lltest::ops::CheckLog;
using lltest::ops::Tolerances;

namespace {

enum class Fault {
  None,
  GeluOverrun,       // writes one float past the end
  AddOffByOne,       // last element slightly wrong
  MatmulSkipsRow,    // leaves the last output row unwritten
  GetRowsShifted,    // returns the neighbouring row
  RmsNormNoEps,      // ignores eps
  RopeWrongPairing,  // neox <-> interleaved
  AttnNoColSum,      // does not accumulate colSum
  AttnMapWrongHead,  // map of the next head
  ScatterNoWeight,   // ignores the row weights
};

// Delegates every op to a CPU backend, except the one with the fault.
class FaultyBackend final : public Backend {
 public:
  explicit FaultyBackend(Fault f) : m_f(f), m_b(makeCpuBackend(2)) {}
  std::string name() const override { return "faulty-cpu"; }
  std::string deviceDescription() const override { return m_b->deviceDescription(); }
  void* alloc(size_t n) override { return m_b->alloc(n); }
  void free(void* p) override { m_b->free(p); }
  void upload(void* d, const void* s, size_t n) override { m_b->upload(d, s, n); }
  void download(void* d, const void* s, size_t n) override { m_b->download(d, s, n); }
  void copy(void* d, const void* s, size_t n) override { m_b->copy(d, s, n); }
  void fill(float* d, float v, size_t n) override { m_b->fill(d, v, n); }
  void sync() override { m_b->sync(); }
  size_t freeMemory() const override { return m_b->freeMemory(); }
  std::unique_ptr<Weight> loadWeight(const WeightDesc& d) override { return m_b->loadWeight(d); }
  const float* vectorData(const Weight& w) override { return m_b->vectorData(w); }
  void matmul(const Weight& w, const float* x, float* y, int n) override {
    m_b->matmul(w, x, y, m_f == Fault::MatmulSkipsRow ? n - 1 : n);
  }
  void getRows(const Weight& w, const int32_t* ids, int n, float* out) override {
    if (m_f != Fault::GetRowsShifted) return m_b->getRows(w, ids, n, out);
    std::vector<int32_t> shifted(ids, ids + n);
    for (auto& i : shifted) i = (i + 1) % int32_t(w.rows);
    m_b->getRows(w, shifted.data(), n, out);
  }
  void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) override {
    m_b->rmsNorm(x, w, y, n, dim, m_f == Fault::RmsNormNoEps ? 0.0f : eps);
  }
  void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                 float eps) override {
    m_b->layerNorm(x, w, b, y, n, dim, eps);
  }
  void rope(float* x, const int32_t* pos, int n, int nHead, int headDim,
            const RopeParams& p) override {
    RopeParams q = p;
    if (m_f == Fault::RopeWrongPairing) q.neox = !q.neox;
    m_b->rope(x, pos, n, nHead, headDim, q);
  }
  void attention(const AttnArgs& a) override {
    AttnArgs b = a;
    if (m_f == Fault::AttnNoColSum) b.colSum = nullptr;
    m_b->attention(b);
  }
  void attentionMap(const AttnArgs& a, int head, float* out) override {
    m_b->attentionMap(a, m_f == Fault::AttnMapWrongHead ? (head + 1) % a.nHead : head, out);
  }
  void addBias(float* x, const float* b, int n, int dim) override { m_b->addBias(x, b, n, dim); }
  void add(const float* a, const float* b, float* y, size_t n) override {
    m_b->add(a, b, y, n);
    if (m_f == Fault::AddOffByOne && n > 0) {
      float last;
      m_b->download(&last, y + n - 1, 4);
      last = last * 1.001f + 0.001f;
      m_b->upload(y + n - 1, &last, 4);
    }
  }
  void addRowVector(float* x, const float* v, float alpha, int r0, int n, int dim) override {
    m_b->addRowVector(x, v, alpha, r0, n, dim);
  }
  void swiglu(const float* g, const float* u, float* y, size_t n) override {
    m_b->swiglu(g, u, y, n);
  }
  void gelu(float* x, size_t n) override { m_b->gelu(x, m_f == Fault::GeluOverrun ? n + 1 : n); }
  void glu(ll::kern::Glu k, const float* g, const float* u, float* y, size_t n) override {
    m_b->glu(k, g, u, y, n);
  }
  void softcap(float* x, float c, size_t n) override { m_b->softcap(x, c, n); }
  void scaleRows(float* x, const float* s, int n, int dim) override {
    m_b->scaleRows(x, s, n, dim);
  }
  void sigmoid(float* x, size_t n) override { m_b->sigmoid(x, n); }
  void gatherRows(const float* s, const int32_t* i, int n, int dim, float* d) override {
    m_b->gatherRows(s, i, n, dim, d);
  }
  void scatterAddRows(const float* s, const int32_t* i, const float* w, int n, int dim,
                      float* d) override {
    m_b->scatterAddRows(s, i, m_f == Fault::ScatterNoWeight ? nullptr : w, n, dim, d);
  }

 private:
  Fault m_f;
  std::unique_ptr<Backend> m_b;
};

using CheckFn = void (*)(Backend&, Backend&, CheckLog&, const Tolerances&);

CheckLog runWith(Fault f, CheckFn fn) {
  FaultyBackend b(f);
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = lltest::ops::freshSeed();
  fn(b, *ref, log, Tolerances{});
  return log;
}

void expectCaught(Fault f, CheckFn fn, const char* what) {
  CheckLog log = runWith(f, fn);
  QVERIFY2(!log.ok(),
           std::string("fault not detected: ") + what + " (seed " + std::to_string(log.seed) + ")");
}

}  // namespace

// Without a fault the wrapper passes, so the failures below come from the faults alone.
LL_TEST(wrapperWithoutFaultPasses) {
  CheckLog log = runWith(Fault::None, lltest::ops::checkAllOps);
  QVERIFY2(log.ok(), log.summary());
}

LL_TEST(faultsAreCaught) {
  expectCaught(Fault::GeluOverrun, lltest::ops::checkElementwise, "gelu writes past its output");
  expectCaught(Fault::AddOffByOne, lltest::ops::checkElementwise, "add: last element off by 0.1%");
  expectCaught(Fault::MatmulSkipsRow, lltest::ops::checkMatmul,
               "matmul leaves the last row unwritten");
  expectCaught(Fault::GetRowsShifted, lltest::ops::checkWeights, "getRows returns the next row");
  expectCaught(Fault::RmsNormNoEps, lltest::ops::checkNorms, "rmsNorm ignores eps");
  expectCaught(Fault::RopeWrongPairing, lltest::ops::checkRope,
               "rope pairs neox/interleaved swapped");
  expectCaught(Fault::AttnNoColSum, lltest::ops::checkAttention, "attention skips colSum");
  expectCaught(Fault::AttnNoColSum, lltest::ops::checkAttentionMap,
               "colSum disagrees with the map");
  expectCaught(Fault::AttnMapWrongHead, lltest::ops::checkAttentionMap,
               "attentionMap of the wrong head");
  expectCaught(Fault::ScatterNoWeight, lltest::ops::checkRows, "scatterAddRows ignores weights");
}

LL_TEST_MAIN("tst_backend_faults")
