#include "runtime/analysis/lens.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "runtime/analysis/stats.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/trace_recompute.h"

namespace ll::rt::ana {

LensProjector::LensProjector(Engine& engine) : m_engine(engine) {}
int LensProjector::nVocab() const {
  return m_engine.spec().nVocab;
}
int LensProjector::nEmbd() const {
  return m_engine.spec().nEmbd;
}

void LensProjector::project(const float* rows, int n, bool finalNorm, float* logits) {
  if (n <= 0) return;
  const ModelSpec& s = m_engine.spec();
  kern::Backend& b = m_engine.backend();
  ModelWeights& w = m_engine.weights();
  const int d = s.nEmbd, V = s.nVocab;
  kern::Buffer x(b, size_t(n) * d * 4), out(b, size_t(n) * V * 4);
  b.upload(x.get(), rows, size_t(n) * d * 4);
  const float* in = x.f32();
  kern::Buffer h;
  if (finalNorm) {
    h = kern::Buffer(b, size_t(n) * d * 4);
    normRows(b, s, w, w.outputNorm, w.outputNormB, x.f32(), h.f32(), n);
    in = h.f32();
  }
  b.matmul(w.head(), in, out.f32(), n);
  // The model's own unembedding: Gemma 2 soft-caps every logit, so the lens does too.
  if (s.finalSoftcap > 0.0f) b.softcap(out.f32(), s.finalSoftcap, size_t(n) * V);
  b.download(logits, out.get(), size_t(n) * V * 4);
}

LensResult logitLens(Engine& engine, const Trace& tr, const LensOptions& opt) {
  LensProjector proj(engine);
  return logitLens(proj, tr, opt);
}

LensResult logitLens(LensProjector& proj, const Trace& tr, const LensOptions& opt) {
  Engine& engine = proj.engine();
  if (!tr.captured) throw std::invalid_argument("logit lens: the trace was run without capture");
  const int T = tr.nTokens, L = tr.nLayer, d = tr.nEmbd, V = tr.nVocab;
  if (engine.spec().nEmbd != d || engine.spec().nVocab != V)
    throw std::invalid_argument("logit lens: the trace does not belong to this model");
  LensResult r;
  r.nLayer = L;
  r.nRows = L + 1;
  r.topK = std::clamp(opt.topK, 1, V);
  r.tokens = opt.tokens;
  if (r.tokens.empty()) {
    r.tokens.resize(T);
    std::iota(r.tokens.begin(), r.tokens.end(), 0);
  }
  for (int t : r.tokens)
    if (t < 0 || t >= T)
      throw std::invalid_argument("logit lens: token index " + std::to_string(t) +
                                  " is out of range");
  if (opt.target >= V) throw std::invalid_argument("logit lens: target token out of range");
  const int nTok = static_cast<int>(r.tokens.size()), K = r.topK, R = r.nRows;
  r.entropy.assign(size_t(R) * nTok, 0.0f);
  r.top1.assign(size_t(R) * nTok, 0);
  r.topIds.assign(size_t(R) * nTok * K, 0);
  r.topProbs.assign(size_t(R) * nTok * K, 0.0f);
  if (opt.target >= 0) {
    r.rank.assign(size_t(R) * nTok, 0);
    r.prob.assign(size_t(R) * nTok, 0.0f);
  }
  if (opt.mid) {
    r.midEntropy.assign(size_t(L) * nTok, 0.0f);
    r.midTop1.assign(size_t(L) * nTok, 0);
    r.midTopIds.assign(size_t(L) * nTok * K, 0);
    r.midTopProbs.assign(size_t(L) * nTok * K, 0.0f);
  }

  // Rows to project: per token all points (rows then mids), batched so the LM head weights are
  // read once per batch.
  const int perTok = R + (opt.mid ? L : 0);
  const int batchTok =
      std::max(1, std::min(nTok, int((size_t(96) << 20) / (size_t(perTok) * V * 4))));
  std::vector<float> in(size_t(batchTok) * perTok * d), logits(size_t(batchTok) * perTok * V);
  for (int t0 = 0; t0 < nTok; t0 += batchTok) {
    const int nb = std::min(batchTok, nTok - t0);
    for (int b = 0; b < nb; ++b) {
      const int t = r.tokens[t0 + b];
      float* dst = in.data() + size_t(b) * perTok * d;
      std::copy_n(tr.embd.data() + size_t(t) * d, d, dst);
      for (int l = 0; l < L; ++l)
        std::copy_n(tr.layers[l].resid.data() + size_t(t) * d, d, dst + size_t(l + 1) * d);
      if (opt.mid)
        for (int l = 0; l < L; ++l)
          std::copy_n(tr.layers[l].residMid.data() + size_t(t) * d, d, dst + size_t(R + l) * d);
    }
    proj.project(in.data(), nb * perTok, opt.finalNorm, logits.data());
    for (int b = 0; b < nb; ++b) {
      const int c = t0 + b;
      const float* lg = logits.data() + size_t(b) * perTok * V;
      for (int row = 0; row < R; ++row) {
        RowStats st = rowStats(lg + size_t(row) * V, V, K, opt.target);
        const size_t at = size_t(row) * nTok + c;
        r.entropy[at] = st.entropy;
        r.top1[at] = st.topIds[0];
        std::copy(st.topIds.begin(), st.topIds.end(), r.topIds.begin() + at * K);
        std::copy(st.topProbs.begin(), st.topProbs.end(), r.topProbs.begin() + at * K);
        if (opt.target >= 0) {
          r.rank[at] = st.rank;
          r.prob[at] = st.prob;
        }
      }
      if (opt.mid)
        for (int l = 0; l < L; ++l) {
          RowStats st = rowStats(lg + size_t(R + l) * V, V, K);
          const size_t at = size_t(l) * nTok + c;
          r.midEntropy[at] = st.entropy;
          r.midTop1[at] = st.topIds[0];
          std::copy(st.topIds.begin(), st.topIds.end(), r.midTopIds.begin() + at * K);
          std::copy(st.topProbs.begin(), st.topProbs.end(), r.midTopProbs.begin() + at * K);
        }
    }
  }
  if (opt.mid) {
    r.deltaAttn.resize(size_t(L) * nTok);
    r.deltaMlp.resize(size_t(L) * nTok);
    for (int l = 0; l < L; ++l)
      for (int c = 0; c < nTok; ++c) {
        const size_t m = size_t(l) * nTok + c;
        r.deltaAttn[m] = r.midEntropy[m] - r.entropy[size_t(l) * nTok + c];
        r.deltaMlp[m] = r.entropy[size_t(l + 1) * nTok + c] - r.midEntropy[m];
      }
  }
  r.finalTop1.resize(nTok);
  r.earlyExit.resize(nTok);
  for (int c = 0; c < nTok; ++c) {
    const int t = r.tokens[c];
    int32_t fin = r.top1[size_t(L) * nTok + c];
    if (tr.allLogits && tr.logits.size() >= size_t(T) * V)
      fin = rowStats(tr.logitsRow(t), V, 1).topIds[0];
    else if (!tr.allLogits && t == T - 1)
      fin = rowStats(tr.logits.data(), V, 1).topIds[0];
    r.finalTop1[c] = fin;
    int e = -1;
    for (int row = 0; row < R && e < 0; ++row)
      if (r.top1[size_t(row) * nTok + c] == fin) e = row;
    r.earlyExit[c] = e;
  }
  return r;
}

OutputEntropy outputEntropy(const Trace& tr) {
  if (!tr.allLogits)
    throw std::invalid_argument("output entropy: the trace holds only the last logits");
  OutputEntropy o;
  const double lnV = std::log(double(tr.nVocab));
  for (int t = 0; t < tr.nTokens; ++t) {
    const float h = rowStats(tr.logitsRow(t), tr.nVocab, 0).entropy;
    o.entropy.push_back(h);
    o.normalized.push_back(static_cast<float>(h / lnV));
  }
  return o;
}

std::vector<ForkToken> forkTokens(const Trace& tr, int n, int topK) {
  OutputEntropy o = outputEntropy(tr);
  std::vector<int> idx(tr.nTokens);
  std::iota(idx.begin(), idx.end(), 0);
  n = std::clamp(n, 0, tr.nTokens);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int a, int b) {
    return o.entropy[a] > o.entropy[b] || (o.entropy[a] == o.entropy[b] && a < b);
  });
  std::vector<ForkToken> out;
  for (int i = 0; i < n; ++i) {
    RowStats st = rowStats(tr.logitsRow(idx[i]), tr.nVocab, topK);
    out.push_back({idx[i], st.entropy, st.topIds, st.topProbs});
  }
  return out;
}

namespace {
float median(std::vector<float> v) {
  if (v.empty()) return 0.0f;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5f * (v[m - 1] + v[m]);
}
}  // namespace

TeacherComparison compareWithTeacher(const Trace& s, const Trace& t, float hTh, float dTh) {
  if (!s.allLogits || !t.allLogits)
    throw std::invalid_argument("teacher comparison: both traces need logits at every position");
  if (s.ids != t.ids)
    throw std::invalid_argument("teacher comparison: the two runs saw different tokens");
  if (s.nVocab != t.nVocab)
    throw std::invalid_argument("teacher comparison: the models have different vocabulary sizes");
  TeacherComparison c;
  c.normalized = outputEntropy(s).normalized;
  const int V = s.nVocab;
  for (int i = 0; i < s.nTokens; ++i) {
    auto p = softmax(s.logitsRow(i), V), q = softmax(t.logitsRow(i), V);
    c.jsdBits.push_back(static_cast<float>(jsd(p.data(), q.data(), V) / std::log(2.0)));
  }
  c.entropyThreshold = hTh >= 0 ? hTh : median(c.normalized);
  c.jsdThreshold = dTh >= 0 ? dTh : median(c.jsdBits);
  for (int i = 0; i < s.nTokens; ++i) {
    const bool highH = c.normalized[i] > c.entropyThreshold, highD = c.jsdBits[i] > c.jsdThreshold;
    c.quadrant.push_back(highH ? (highD ? Quadrant::UnsureDisagree : Quadrant::UnsureAgree)
                               : (highD ? Quadrant::Overconfident : Quadrant::ConfidentAgree));
  }
  return c;
}

}  // namespace ll::rt::ana
