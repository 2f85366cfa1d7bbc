// Op checks for RoPE, attention (with statistics and knockout masks) and attentionMap.
#include <cmath>

#include "backend_checks.h"
#include "backend_checks_util.h"

namespace lltest::ops {
namespace {

struct AttnCase {
  int nQ, nKv, nHead, nHeadKv, hd;
  bool knock;             // random blockQ / blockK masks
  bool stats;             // entropy, colSum, lastRow requested
  bool headMask = false;  // random per-kv-head headKeep over the first nKv - 2 keys
  std::string str() const {
    return dims({{"nQ", nQ},
                 {"nKv", nKv},
                 {"nHead", nHead},
                 {"nHeadKv", nHeadKv},
                 {"headDim", hd}}) +
           (knock ? " knockout" : "") + (stats ? " stats" : "") + (headMask ? " headKeep" : "");
  }
};

struct AttnData {
  std::vector<float> q, k, v, colInit;
  std::vector<uint8_t> blockQ, blockK;
  std::vector<uint8_t> headKeep;  // [nHeadKv, keepLen]
  int keepLen = 0, keepFrom = 0;
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
  return d;
}

kern::AttnArgs args(const AttnCase& c, const GuardedBuf& q, const GuardedBuf& k,
                    const GuardedBuf& v) {
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
  return a;
}

AttnResult runAttention(kern::Backend& be, const AttnCase& c, const AttnData& d, CheckLog& log) {
  const std::string tag = "attention " + c.str() + " [" + be.name() + "]";
  GuardedBuf q(be, d.q), k(be, d.k), v(be, d.v);
  GuardedBuf out(be, size_t(c.nQ) * c.nHead * c.hd), ent(be, size_t(c.nHead) * c.nQ),
      col(be, d.colInit), last(be, size_t(c.nHead) * c.nKv);
  GuardedBuf bq(be, d.blockQ), bk(be, d.blockK), hk(be, d.headKeep);
  kern::AttnArgs a = args(c, q, k, v);
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
  for (auto* g : {&q, &k, &v, &out, &ent, &col, &last, &bq, &bk, &hk}) g->checkGuards(log, tag);
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
  GuardedBuf bq(be, d.blockQ), bk(be, d.blockK), hk(be, d.headKeep);
  kern::AttnArgs a = args(c, q, k, v);
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
  for (auto* g : {&q, &k, &v, &map, &bq, &bk, &hk}) g->checkGuards(log, tag);
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
  };
  return cases;
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
  }
  for (const Case& c : cases) {
    const std::string d =
        dims({{"n", c.n}, {"nHead", c.nHead}, {"headDim", c.headDim}, {"nRot", c.p.nRot}}) +
        (c.p.neox ? " neox" : " interleaved") + (c.p.llama3Factor != 0 ? " llama3" : "") +
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
    // Properties of the backend under test on its own: row 0 unchanged, pair norms kept,
    // unrotated dimensions untouched.
    auto y = runOp(b, log, "rope " + d, {posF}, x.size(), &x, run);
    const size_t rowLen = size_t(c.nHead) * c.headDim;
    double d0 = 0, normErr = 0;
    size_t touched = 0;
    for (size_t i = 0; i < rowLen; ++i) d0 = std::max(d0, double(std::fabs(y[i] - x[i])));
    const int half = c.p.nRot / 2;
    for (int r = 0; r < c.n; ++r)
      for (int h = 0; h < c.nHead; ++h) {
        const size_t o = (size_t(r) * c.nHead + h) * c.headDim;
        for (int i = 0; i < half; ++i) {
          const int i0 = c.p.neox ? i : 2 * i, i1 = c.p.neox ? i + half : 2 * i + 1;
          const double nx = std::hypot(x[o + i0], x[o + i1]), ny = std::hypot(y[o + i0], y[o + i1]);
          normErr = std::max(normErr, std::fabs(nx - ny));
        }
        for (int i = c.p.nRot; i < c.headDim; ++i) touched += y[o + i] != x[o + i];
      }
    log.expect(d0 < 1e-6, "rope " + d + ": position 0 changed the row [" + b.name() + "]");
    log.expect(normErr < 1e-5, "rope " + d + ": pair norms not preserved [" + b.name() + "]");
    log.expect(touched == 0, "rope " + d + ": dimensions past nRot changed [" + b.name() + "]");
  }
}

void checkAttention(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
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
          const bool masked = j > qi || (((knock && d.blockK[j]) || evicted) && j != qi);
          if (masked && p != 0.0) ++maskViolations;
          sum += p;
          if (p > 0) e -= p * std::log(p);
          colDelta[j] += float(p);
          for (int t = 0; t < c.hd; ++t)
            impliedOut[size_t(i) * c.hd + t] +=
                float(p * d.v[(size_t(j) * c.nHeadKv + h / group) * c.hd + t]);
        }
        worstSum = std::max(worstSum, std::fabs(sum - 1.0));
        ent[i] = float(e);
        gotEnt[i] = o.ent[size_t(h) * c.nQ + i];
        for (int t = 0; t < c.hd; ++t)
          gotOut[size_t(i) * c.hd + t] = o.out[(size_t(i) * c.nHead + h) * c.hd + t];
      }
      for (int j = 0; j < c.nKv; ++j) {
        last[j] = m[size_t(c.nQ - 1) * c.nKv + j];
        gotLast[j] = o.last[size_t(h) * c.nKv + j];
        gotCol[j] = o.col[size_t(h) * c.nKv + j] - d.colInit[size_t(h) * c.nKv + j];
      }
      const std::string self = tag + " vs own attention [" + b.name() + "]";
      log.expect(maskViolations == 0,
                 self + ": " + std::to_string(maskViolations) + " masked entries not 0");
      log.expect(worstSum <= tol.probSum,
                 self + ": a row sums to 1 +- " + std::to_string(worstSum));
      compare(log, self + " output = map * V", gotOut, impliedOut, tol.attention);
      compare(log, self + " entropy", gotEnt, ent, tol.attention);
      compare(log, self + " lastRow", gotLast, last, tol.attention);
      // colSum adds to values of order 1; its delta is compared with an absolute-scale NMSE.
      compare(log, self + " colSum", gotCol, colDelta, tol.attention * 100);
    }
  }
}

}  // namespace lltest::ops
