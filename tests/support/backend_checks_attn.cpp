// Op checks for RoPE, attention (with statistics, knockout masks, sliding window, soft-cap and
// sinks) and attentionMap.
#include <cmath>
#include <limits>

#include "kernels/rope_freq.h"
#include "backend_checks.h"
#include "backend_checks_util.h"

namespace lltest::ops {
namespace {

struct AttnCase {
  int nQ, nKv, nHead, nHeadKv, hd;
  bool knock;             // random blockQ / blockK masks
  bool stats;             // entropy, colSum, lastRow requested
  bool headMask = false;  // random per-kv-head headKeep over the first nKv - 2 keys
  int window = 0;         // sliding window (0: none)
  float softcap = 0.0f;   // logit soft-cap (0: none)
  int sinks = 0;          // 0: none, 1: random sink logits per head, 2: extreme ones
  std::string str() const {
    return dims({{"nQ", nQ},
                 {"nKv", nKv},
                 {"nHead", nHead},
                 {"nHeadKv", nHeadKv},
                 {"headDim", hd}}) +
           (knock ? " knockout" : "") + (stats ? " stats" : "") + (headMask ? " headKeep" : "") +
           (window ? " window=" + std::to_string(window) : "") +
           (softcap > 0 ? " softcap=" + std::to_string(softcap) : "") +
           (sinks == 1   ? " sinks"
            : sinks == 2 ? " extreme sinks"
                         : "");
  }
};

struct AttnData {
  std::vector<float> q, k, v, colInit;
  std::vector<uint8_t> blockQ, blockK;
  std::vector<uint8_t> headKeep;  // [nHeadKv, keepLen]
  int keepLen = 0, keepFrom = 0;
  std::vector<float> sinks;  // [nHead] sink logits
};

struct AttnResult {
  std::vector<float> out, ent, col, last;
};

AttnData makeData(Rng& rng, const AttnCase& c, double pBlock) {
  AttnData d;
  // sigma 1.5 makes softmax rows neither uniform nor one-hot at headDim 8..128.
  d.q = rng.normals(size_t(c.nQ) * c.nHead * c.hd, 1.5f);
  d.k = rng.normals(size_t(c.nKv) * c.nHeadKv * c.hd, 1.5f);
  d.v = rng.normals(size_t(c.nKv) * c.nHeadKv * c.hd);
  d.colInit = rng.floats(size_t(c.nHead) * c.nKv, 0, 3);
  if (c.knock) {
    d.blockQ.resize(size_t(c.nKv));
    d.blockK.resize(size_t(c.nKv));
    for (auto& x : d.blockQ) x = rng.uniform(0, 1) < 0.5 ? 1 : 0;
    for (auto& x : d.blockK) x = rng.uniform(0, 1) < pBlock ? 1 : 0;
  }
  if (c.headMask) {
    // Keys past keepLen stay visible; query rows before keepFrom ignore the mask (the prompt rows
    // of a decode that evicts after prefill).
    d.keepLen = std::max(1, c.nKv - 2);
    d.keepFrom = c.nKv - c.nQ + c.nQ / 2;
    d.headKeep.resize(size_t(c.nHeadKv) * d.keepLen);
    for (auto& x : d.headKeep) x = rng.uniform(0, 1) < 0.6 ? 1 : 0;
  }
  if (c.sinks == 1) {
    // Logits here are of order +-5: sinks from negligible to dominant.
    d.sinks = rng.floats(size_t(c.nHead), -3.0f, 6.0f);
  } else if (c.sinks == 2) {
    // -inf is no sink; -1e30 underflows to none; 40 leaves the keys ~e-35 shares; 0 is moderate.
    const float kinds[4] = {-std::numeric_limits<float>::infinity(), -1e30f, 40.0f, 0.0f};
    for (int h = 0; h < c.nHead; ++h) d.sinks.push_back(kinds[h % 4]);
  }
  return d;
}

kern::AttnArgs args(const AttnCase& c, const GuardedBuf& q, const GuardedBuf& k,
                    const GuardedBuf& v, const GuardedBuf& sinks) {
  kern::AttnArgs a;
  a.nQ = c.nQ;
  a.nKv = c.nKv;
  a.nHead = c.nHead;
  a.nHeadKv = c.nHeadKv;
  a.headDim = c.hd;
  a.scale = float(1.0 / std::sqrt(double(c.hd)));
  a.q = q.f32();
  a.k = k.f32();
  a.v = v.f32();
  a.window = c.window;
  a.softcap = c.softcap;
  if (c.sinks) a.sinks = sinks.f32();
  return a;
}

AttnResult runAttention(kern::Backend& be, const AttnCase& c, const AttnData& d, CheckLog& log) {
  const std::string tag = "attention " + c.str() + " [" + be.name() + "]";
  GuardedBuf q(be, d.q), k(be, d.k), v(be, d.v);
  GuardedBuf out(be, size_t(c.nQ) * c.nHead * c.hd), ent(be, size_t(c.nHead) * c.nQ),
      col(be, d.colInit), last(be, size_t(c.nHead) * c.nKv);
  GuardedBuf bq(be, d.blockQ), bk(be, d.blockK), hk(be, d.headKeep), sk(be, d.sinks);
  kern::AttnArgs a = args(c, q, k, v, sk);
  a.out = out.f32();
  if (c.stats) {
    a.entropy = ent.f32();
    a.colSum = col.f32();
    a.lastRow = last.f32();
  }
  if (c.knock) {
    a.blockQ = bq.u8();
    a.blockK = bk.u8();
  }
  if (c.headMask) {
    a.headKeep = hk.u8();
    a.headKeepLen = d.keepLen;
    a.headKeepFrom = d.keepFrom;
  }
  be.attention(a);
  be.sync();
  for (auto* g : {&q, &k, &v, &out, &ent, &col, &last, &bq, &bk, &hk, &sk})
    g->checkGuards(log, tag);
  AttnResult r;
  r.out = out.download();
  if (c.stats) {
    r.ent = ent.download();
    r.col = col.download();
    r.last = last.download();
  }
  return r;
}

std::vector<float> runMap(kern::Backend& be, const AttnCase& c, const AttnData& d, int head,
                          CheckLog& log) {
  const std::string tag =
      "attentionMap " + c.str() + " head " + std::to_string(head) + " [" + be.name() + "]";
  GuardedBuf q(be, d.q), k(be, d.k), v(be, d.v), map(be, size_t(c.nQ) * c.nKv);
  GuardedBuf bq(be, d.blockQ), bk(be, d.blockK), hk(be, d.headKeep), sk(be, d.sinks);
  kern::AttnArgs a = args(c, q, k, v, sk);
  if (c.knock) {
    a.blockQ = bq.u8();
    a.blockK = bk.u8();
  }
  if (c.headMask) {
    a.headKeep = hk.u8();
    a.headKeepLen = d.keepLen;
    a.headKeepFrom = d.keepFrom;
  }
  be.attentionMap(a, head, map.f32());
  be.sync();
  for (auto* g : {&q, &k, &v, &map, &bq, &bk, &hk, &sk}) g->checkGuards(log, tag);
  return map.download();
}

const std::vector<AttnCase>& attnCases() {
  static const std::vector<AttnCase> cases = {
      {1, 1, 1, 1, 8, false, true},
      {5, 5, 2, 2, 16, false, true},
      {7, 19, 8, 2, 64, false, true},
      {1, 40, 8, 2, 64, false, true},
      {37, 37, 4, 1, 33, false, true},
      {70, 100, 8, 2, 64, false, true},
      {33, 33, 3, 3, 128, false, false},
      {7, 19, 8, 2, 64, true, true},
      {37, 37, 4, 1, 33, true, true},
      {70, 100, 8, 2, 64, true, true},
      {1, 40, 8, 2, 64, true, true},
      // Per-kv-head eviction masks, alone and with a knockout; nQ == 1 is the decode step.
      {7, 19, 8, 2, 64, false, true, true},
      {1, 40, 8, 2, 64, false, true, true},
      {70, 100, 8, 2, 64, false, true, true},
      {37, 37, 4, 4, 33, true, true, true},
      // Sliding window: one key (only itself), small, one tile of 64 exactly, crossing the CPU's
      // 32-row blocks and the GPU's 64-key tiles, equal to and past nKv (no effect), decode rows.
      {5, 5, 2, 2, 16, false, true, false, 1},
      {7, 19, 8, 2, 64, false, true, false, 4},
      {1, 40, 8, 2, 64, false, true, false, 8},
      {1, 40, 8, 2, 64, false, true, false, 1},
      {1, 40, 8, 2, 64, false, true, false, 40},
      {37, 37, 4, 1, 33, false, true, false, 100},
      {70, 100, 8, 2, 64, false, true, false, 33},
      {65, 130, 4, 2, 64, false, true, false, 64},
      {70, 100, 8, 2, 64, true, true, true, 20},
      {1, 40, 8, 2, 64, true, true, true, 9},
      // Soft-cap: saturating (1.5) and Gemma 2's 50, with masks.
      {7, 19, 8, 2, 64, false, true, false, 0, 1.5f},
      {70, 100, 8, 2, 64, true, true, false, 0, 50.0f},
      {1, 40, 8, 2, 64, false, true, true, 0, 2.0f},
      // Sinks: random and extreme (-inf, -1e30, 40, 0), with masks and GQA.
      {7, 19, 8, 2, 64, false, true, false, 0, 0.0f, 1},
      {70, 100, 8, 2, 64, true, true, false, 0, 0.0f, 1},
      {1, 40, 8, 2, 64, false, true, true, 0, 0.0f, 1},
      {37, 37, 4, 1, 33, false, true, false, 0, 0.0f, 2},
      {70, 100, 8, 2, 64, false, true, false, 0, 0.0f, 2},
      {33, 33, 3, 3, 128, false, false, false, 0, 0.0f, 1},
      // Everything at once (gpt-oss local layers plus a soft-cap and the inspector's masks).
      {70, 100, 8, 2, 64, true, true, true, 24, 2.0f, 1},
      {37, 37, 4, 4, 33, true, true, true, 5, 30.0f, 2},
      {1, 40, 8, 2, 64, true, true, true, 16, 1.5f, 1},
  };
  return cases;
}

// Tiny cases with probabilities written out from the formulas of kernels/attn_rule.h, so the
// reference is checked too, not only backends against it. One head, 3 keys, headDim 4 (scale 1/2),
// q = (2, 0, 0, 0) and k_j = (ln(j + 1), 0, 0, 0): raw logits ln 1, ln 2, ln 3, i.e. weights
// 1 : 2 : 3 before the mask; v_j = e_j, so a row's output is its probabilities.
struct HandCase {
  const char* what;
  int nQ = 3;  // rows at cache indices 3 - nQ .. 2
  int window = 0;
  float softcap = 0.0f;
  float sink = std::numeric_limits<float>::quiet_NaN();  // NaN: no sinks pointer
  std::vector<uint8_t> blockQ = {}, blockK = {}, keep = {};
  int keepFrom = 0;
  std::vector<std::vector<double>> p;  // expected probabilities, nQ rows x 3 keys
};

void checkHandCases(kern::Backend& be, CheckLog& log, const Tolerances& tol) {
  // Soft-cap 1: tanh(ln 2) = 3/5, tanh(ln 3) = 4/5, so the weights are 1 : e^0.6 : e^0.8.
  const double a = std::exp(0.6), b = std::exp(0.8), e8 = std::exp(8.0);
  // Soft-cap 100: weights 1 : e^(100 tanh(ln 2 / 100)) : e^(100 tanh(ln 3 / 100)).
  const double a100 = std::exp(100 * std::tanh(std::log(2.0) / 100)),
               b100 = std::exp(100 * std::tanh(std::log(3.0) / 100)), z100 = 1 + a100 + b100;
  const float ln4 = float(std::log(4.0)), inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<double>> causal = {
      {1, 0, 0}, {1 / 3.0, 2 / 3.0, 0}, {1 / 6.0, 2 / 6.0, 3 / 6.0}};
  const std::vector<HandCase> cases = {
      {.what = "causal", .p = causal},
      {.what = "window 2", .window = 2, .p = {{1, 0, 0}, {1 / 3.0, 2 / 3.0, 0}, {0, 0.4, 0.6}}},
      {.what = "window 1", .window = 1, .p = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
      {.what = "window 3 (= nKv)", .window = 3, .p = causal},
      {.what = "window 2, decode row", .nQ = 1, .window = 2, .p = {{0, 0.4, 0.6}}},
      {.what = "window 5, decode row", .nQ = 1, .window = 5, .p = {{1 / 6.0, 2 / 6.0, 0.5}}},
      {.what = "softcap 1",
       .softcap = 1.0f,
       .p = {{1, 0, 0},
             {1 / (1 + a), a / (1 + a), 0},
             {1 / (1 + a + b), a / (1 + a + b), b / (1 + a + b)}}},
      {.what = "softcap 100 (nearly none)",
       .softcap = 100.0f,
       .p = {{1, 0, 0},
             {1 / (1 + a100), a100 / (1 + a100), 0},
             {1 / z100, a100 / z100, b100 / z100}}},
      // Sink ln 4 (weight 4, above every key's, so it sets the max shift): rows 1:4, 1:2:4,
      // 1:2:3:4.
      {.what = "sink ln 4",
       .sink = ln4,
       .p = {{0.2, 0, 0}, {1 / 7.0, 2 / 7.0, 0}, {0.1, 0.2, 0.3}}},
      {.what = "sink 8 (dominant)",
       .sink = 8.0f,
       .p = {{1 / (1 + e8), 0, 0},
             {1 / (3 + e8), 2 / (3 + e8), 0},
             {1 / (6 + e8), 2 / (6 + e8), 3 / (6 + e8)}}},
      {.what = "sink -inf (none)", .sink = -inf, .p = causal},
      {.what = "sink -1e30 (underflows)", .sink = -1e30f, .p = causal},
      {.what = "knockout of key 1 for row 2",
       .blockQ = {0, 0, 1},
       .blockK = {0, 1, 0},
       .p = {{1, 0, 0}, {1 / 3.0, 2 / 3.0, 0}, {0.25, 0, 0.75}}},
      {.what = "knockout of every key (own key stays)",
       .blockQ = {1, 1, 1},
       .blockK = {1, 1, 1},
       .p = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
      {.what = "headKeep 0 1 1 from row 1",
       .keep = {0, 1, 1},
       .keepFrom = 1,
       .p = {{1, 0, 0}, {0, 1, 0}, {0, 0.4, 0.6}}},
      {.what = "window 2 + sink ln 4",
       .window = 2,
       .sink = ln4,
       .p = {{0.2, 0, 0}, {1 / 7.0, 2 / 7.0, 0}, {0, 2 / 9.0, 3 / 9.0}}},
      {.what = "window 2 + knockout of key 1 for row 2",
       .window = 2,
       .blockQ = {0, 0, 1},
       .blockK = {0, 1, 0},
       .p = {{1, 0, 0}, {1 / 3.0, 2 / 3.0, 0}, {0, 0, 1}}},
      {.what = "softcap 1 + sink ln 4 + headKeep 1 0 1 from row 2",
       .softcap = 1.0f,
       .sink = ln4,
       .keep = {1, 0, 1},
       .keepFrom = 2,
       .p = {{1 / 5.0, 0, 0}, {1 / (5 + a), a / (5 + a), 0}, {1 / (5 + b), 0, b / (5 + b)}}},
  };
  for (const HandCase& h : cases) {
    const bool sink = !std::isnan(h.sink);
    AttnCase c{h.nQ,     3,         1,           1, 4, !h.blockQ.empty(), true, !h.keep.empty(),
               h.window, h.softcap, sink ? 1 : 0};
    AttnData d;
    for (int i = 0; i < h.nQ; ++i) d.q.insert(d.q.end(), {2.0f, 0.0f, 0.0f, 0.0f});
    for (int j = 0; j < 3; ++j) {
      d.k.insert(d.k.end(), {float(std::log(j + 1.0)), 0.0f, 0.0f, 0.0f});
      for (int t = 0; t < 4; ++t) d.v.push_back(t == j ? 1.0f : 0.0f);
    }
    d.colInit.assign(3, 0.0f);
    d.blockQ = h.blockQ;
    d.blockK = h.blockK;
    d.headKeep = h.keep;
    d.keepLen = int(h.keep.size());
    d.keepFrom = h.keepFrom;
    if (sink) d.sinks = {h.sink};
    const AttnResult r = runAttention(be, c, d, log);
    const std::vector<float> map = runMap(be, c, d, 0, log);
    std::vector<float> out, ent, col(3, 0.0f), last, pm;
    for (int i = 0; i < h.nQ; ++i) {
      double e = 0, sum = 0;
      for (int j = 0; j < 3; ++j) {
        const double p = h.p[i][j];
        out.push_back(float(p));
        pm.push_back(float(p));
        col[j] += float(p);
        if (p > 0) e -= p * std::log(p);
        sum += p;
      }
      out.push_back(0.0f);
      if (sink && 1 - sum > 0) e -= (1 - sum) * std::log(1 - sum);
      ent.push_back(float(e));
    }
    for (int j = 0; j < 3; ++j) last.push_back(float(h.p[h.nQ - 1][j]));
    const std::string tag = std::string("attention by hand, ") + h.what + " [" + be.name() + "]";
    compare(log, tag + " output", r.out, out, tol.attention);
    compare(log, tag + " entropy", r.ent, ent, tol.attention);
    compare(log, tag + " colSum", r.col, col, tol.attention);
    compare(log, tag + " lastRow", r.last, last, tol.attention);
    compare(log, tag + " attentionMap", map, pm, tol.attention);
  }
}

}  // namespace

void checkRope(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x55);
  struct Case {
    int n, nHead, headDim;
    kern::RopeParams p;
    int maxPos;
  };
  auto params = [](int nRot, float base, float freqScale, bool neox, float llama3) {
    kern::RopeParams p;
    p.nRot = nRot;
    p.base = base;
    p.freqScale = freqScale;
    p.neox = neox;
    p.llama3Factor = llama3;
    return p;
  };
  std::vector<Case> cases;
  for (bool neox : {false, true}) {
    cases.push_back({7, 3, 64, params(64, 10000, 1, neox, 0), 4095});
    cases.push_back(
        {1, 32, 128, params(128, 500000, 1, neox, 8), 131071});  // llama3, far positions
    cases.push_back({33, 8, 128, params(128, 500000, 1, neox, 8), 8191});
    cases.push_back(
        {5, 5, 6, params(6, 10000, 0.25f, neox, 0), 2000});            // linear scaling, tiny head
    cases.push_back({9, 2, 64, params(32, 10000, 1, neox, 0), 1000});  // partial rotation
    cases.push_back({100, 4, 80, params(80, 1000000, 1, neox, 0), 32767});
    // phi3 LongRoPE: per-pair frequency divisors and a cos/sin factor.
    kern::RopeParams longRope = params(16, 10000, 1, neox, 0);
    for (int i = 0; i < 8; ++i) longRope.freqFactors.push_back(1.0f + 0.75f * float(i * i));
    longRope.attnFactor = 1.0954451f;
    cases.push_back({11, 4, 16, longRope, 4095});
    // gpt-oss YaRN: factor 32 from an original context of 128.
    kern::RopeParams yarn = params(32, 150000, 1.0f / 32, neox, 0);
    yarn.yarnExtFactor = 1.0f;
    yarn.yarnOrigCtx = 128;
    cases.push_back({13, 4, 32, yarn, 4095});
  }
  for (const Case& c : cases) {
    const std::string d =
        dims({{"n", c.n}, {"nHead", c.nHead}, {"headDim", c.headDim}, {"nRot", c.p.nRot}}) +
        (c.p.neox ? " neox" : " interleaved") + (c.p.llama3Factor != 0 ? " llama3" : "") +
        (c.p.freqFactors.empty() ? "" : " factors") + (c.p.yarnExtFactor != 0 ? " yarn" : "") +
        " base=" + std::to_string(int64_t(c.p.base));
    std::vector<int32_t> pos(c.n);
    for (auto& p : pos) p = rng.intIn(0, c.maxPos);
    pos[0] = 0;  // position 0 must leave the row unchanged
    std::vector<float> posF(c.n);
    std::memcpy(posF.data(), pos.data(), pos.size() * 4);
    auto x = rng.floats(size_t(c.n) * c.nHead * c.headDim, -2, 2);
    auto run = [&](kern::Backend& be, auto& in, float* out) {
      be.rope(out, in[0]->i32(), c.n, c.nHead, c.headDim, c.p);
    };
    parity(b, ref, log, "rope " + d, {posF}, x.size(), &x, tol.rope, run);
    // Properties of the backend under test on its own: row 0 only scaled by the cos/sin magnitude,
    // pair norms kept up to that factor, unrotated dimensions untouched.
    const double mag = kern::ropeMagnitude(c.p);
    auto y = runOp(b, log, "rope " + d, {posF}, x.size(), &x, run);
    const size_t rowLen = size_t(c.nHead) * c.headDim;
    double d0 = 0, normErr = 0;
    size_t touched = 0;
    for (size_t i = 0; i < rowLen; ++i) d0 = std::max(d0, std::fabs(y[i] - mag * x[i]));
    const int half = c.p.nRot / 2;
    for (int r = 0; r < c.n; ++r)
      for (int h = 0; h < c.nHead; ++h) {
        const size_t o = (size_t(r) * c.nHead + h) * c.headDim;
        for (int i = 0; i < half; ++i) {
          const int i0 = c.p.neox ? i : 2 * i, i1 = c.p.neox ? i + half : 2 * i + 1;
          const double nx = std::hypot(x[o + i0], x[o + i1]), ny = std::hypot(y[o + i0], y[o + i1]);
          normErr = std::max(normErr, std::fabs(mag * nx - ny));
        }
        for (int i = c.p.nRot; i < c.headDim; ++i) touched += y[o + i] != x[o + i];
      }
    log.expect(d0 < 1e-5, "rope " + d + ": position 0 changed the row [" + b.name() + "]");
    log.expect(normErr < 1e-5, "rope " + d + ": pair norms not preserved [" + b.name() + "]");
    log.expect(touched == 0, "rope " + d + ": dimensions past nRot changed [" + b.name() + "]");
  }
}

void checkAttention(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  checkHandCases(ref, log, Tolerances{});
  checkHandCases(b, log, tol);
  Rng rng(log.seed ^ 0x66);
  for (const AttnCase& c : attnCases()) {
    const AttnData d = makeData(rng, c, 0.3);
    const AttnResult r = runAttention(ref, c, d, log), o = runAttention(b, c, d, log);
    const std::string tag = "attention " + c.str() + " [" + b.name() + " vs " + ref.name() + "]";
    compare(log, tag + " output", o.out, r.out, tol.attention);
    if (c.stats) {
      compare(log, tag + " entropy", o.ent, r.ent, tol.attention);
      compare(log, tag + " colSum", o.col, r.col, tol.attention);
      compare(log, tag + " lastRow", o.last, r.last, tol.attention);
    }
  }
  // Every query blocked from every other key attends only itself: output = own value row.
  AttnCase c{9, 12, 4, 2, 16, true, true};
  AttnData d = makeData(rng, c, 1.0);
  std::fill(d.blockQ.begin(), d.blockQ.end(), uint8_t(1));
  const AttnResult o = runAttention(b, c, d, log);
  std::vector<float> expect(o.out.size()), zeroEnt(size_t(c.nHead) * c.nQ, 0.0f);
  for (int i = 0; i < c.nQ; ++i)
    for (int h = 0; h < c.nHead; ++h)
      for (int e = 0; e < c.hd; ++e)
        expect[(size_t(i) * c.nHead + h) * c.hd + e] =
            d.v[(size_t(c.nKv - c.nQ + i) * c.nHeadKv + h / 2) * c.hd + e];
  compare(log, "attention, all keys knocked out: output is own value [" + b.name() + "]", o.out,
          expect, tol.attention);
  double maxEnt = 0;
  for (float e : o.ent) maxEnt = std::max(maxEnt, double(std::fabs(e)));
  log.expect(maxEnt < 1e-5, "attention, all keys knocked out: entropy not 0 [" + b.name() + "]");

  // The same eviction row for every kv head is the knockout of the evicted keys for the query
  // rows from headKeepFrom on: both masks must give the same output and statistics.
  for (AttnCase e : {AttnCase{40, 40, 8, 2, 64, true, true, true},
                     AttnCase{1, 33, 4, 4, 16, true, true, true}}) {
    AttnData dk = makeData(rng, e, 0.0);
    for (int g = 1; g < e.nHeadKv; ++g)
      std::copy(dk.headKeep.begin(), dk.headKeep.begin() + dk.keepLen,
                dk.headKeep.begin() + size_t(g) * dk.keepLen);
    AttnData db = dk;
    for (int i = 0; i < e.nKv; ++i) {
      db.blockQ[i] = i >= dk.keepFrom ? 1 : 0;
      db.blockK[i] = i < dk.keepLen && dk.headKeep[i] == 0 ? 1 : 0;
    }
    AttnCase eb = e, ek = e;
    eb.headMask = false;
    ek.knock = false;
    std::fill(dk.blockQ.begin(), dk.blockQ.end(), uint8_t(0));
    const AttnResult viaKeep = runAttention(b, ek, dk, log),
                     viaKnock = runAttention(b, eb, db, log);
    const std::string tag =
        "attention " + e.str() + ": headKeep = knockout of the same keys [" + b.name() + "]";
    compare(log, tag + " output", viaKeep.out, viaKnock.out, tol.attention);
    compare(log, tag + " entropy", viaKeep.ent, viaKnock.ent, tol.attention);
    compare(log, tag + " colSum", viaKeep.col, viaKnock.col, tol.attention);
  }
}

void checkAttentionMap(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x77);
  for (AttnCase c : attnCases()) {
    c.stats = true;
    const AttnData d = makeData(rng, c, 0.3);
    const AttnResult o = runAttention(b, c, d, log);
    const int group = c.nHead / c.nHeadKv;
    for (int h : {0, c.nHead / 2, c.nHead - 1}) {
      const std::string tag = "attentionMap " + c.str() + " head " + std::to_string(h);
      const auto m = runMap(b, c, d, h, log), mr = runMap(ref, c, d, h, log);
      compare(log, tag + " [" + b.name() + " vs " + ref.name() + "]", m, mr, tol.attention);
      // The map must be the probabilities implied by b's own attention output and statistics.
      std::vector<float> impliedOut(size_t(c.nQ) * c.hd), gotOut(impliedOut.size()), ent(c.nQ),
          gotEnt(c.nQ), colDelta(c.nKv), gotCol(c.nKv), last(c.nKv), gotLast(c.nKv);
      size_t maskViolations = 0;
      double worstSum = 0;
      for (int i = 0; i < c.nQ; ++i) {
        const int qi = c.nKv - c.nQ + i;
        const bool knock = c.knock && d.blockQ[qi];
        const bool evict = c.headMask && qi >= d.keepFrom;
        double sum = 0, e = 0;
        for (int j = 0; j < c.nKv; ++j) {
          const double p = m[size_t(i) * c.nKv + j];
          const bool evicted =
              evict && j < d.keepLen && d.headKeep[size_t(h / group) * d.keepLen + j] == 0;
          // Written out here rather than taken from kernels/attn_rule.h, so a change of the
          // rule shows.
          const bool masked = j > qi || (c.window > 0 && qi - j >= c.window) ||
                              (((knock && d.blockK[j]) || evicted) && j != qi);
          if (masked && p != 0.0) ++maskViolations;
          sum += p;
          if (p > 0) e -= p * std::log(p);
          colDelta[j] += float(p);
          for (int t = 0; t < c.hd; ++t)
            impliedOut[size_t(i) * c.hd + t] +=
                float(p * d.v[(size_t(j) * c.nHeadKv + h / group) * c.hd + t]);
        }
        if (c.sinks) {
          // The sink takes the rest of the row and is one more outcome of the entropy.
          worstSum = std::max(worstSum, sum - 1.0);
          const double pSink = 1.0 - sum;
          if (pSink > 0) e -= pSink * std::log(pSink);
        } else {
          worstSum = std::max(worstSum, std::fabs(sum - 1.0));
        }
        ent[i] = float(e);
        gotEnt[i] = o.ent[size_t(h) * c.nQ + i];
        for (int t = 0; t < c.hd; ++t)
          gotOut[size_t(i) * c.hd + t] = o.out[(size_t(i) * c.nHead + h) * c.hd + t];
      }
      for (int j = 0; j < c.nKv; ++j) {
        last[j] = m[size_t(c.nQ - 1) * c.nKv + j];
        gotLast[j] = o.last[size_t(h) * c.nKv + j];
        gotCol[j] = o.col[size_t(h) * c.nKv + j];
        colDelta[j] += d.colInit[size_t(h) * c.nKv + j];
      }
      const std::string self = tag + " vs own attention [" + b.name() + "]";
      log.expect(maskViolations == 0,
                 self + ": " + std::to_string(maskViolations) + " masked entries not 0");
      log.expect(worstSum <= tol.probSum,
                 self + (c.sinks ? ": a row sums to above 1 by " : ": a row sums to 1 +- ") +
                     std::to_string(worstSum));
      compare(log, self + " output = map * V", gotOut, impliedOut, tol.attention);
      double entScale = 0, entErr = 0;
      for (int i = 0; i < c.nQ; ++i) {
        entScale = std::max(entScale, std::fabs(double(ent[i])));
        entErr = std::max(entErr, std::fabs(double(gotEnt[i]) - ent[i]));
      }
      if (entScale < 1e-3)  // a sink takes (nearly) everything: relative errors mean nothing
        log.expect(entErr <= 1e-5, self + " entropy (near 0) off by " + std::to_string(entErr));
      else
        compare(log, self + " entropy", gotEnt, ent, tol.attention);
      compare(log, self + " lastRow", gotLast, last, tol.attention);
      // colSum adds to values of order 1: compared whole (start + this call's sum), so a head
      // whose keys get ~0 (a dominant sink) is not judged by the relative error of ~0.
      compare(log, self + " colSum", gotCol, colDelta, tol.attention);
    }
  }
}

}  // namespace lltest::ops
