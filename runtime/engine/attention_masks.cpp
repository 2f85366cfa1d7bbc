#include "runtime/engine/attention_masks.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ll::rt {

std::vector<const Knockout*> allKnockouts(const Interventions& iv) {
  std::vector<const Knockout*> out;
  if (iv.knockout) out.push_back(&*iv.knockout);
  for (const auto& k : iv.masks) out.push_back(&k);
  return out;
}

std::vector<MaskSegment> maskSegments(const Interventions& iv, int layer, int rowBegin,
                                      int rowEnd) {
  std::vector<const Knockout*> act;
  for (const Knockout* k : allKnockouts(iv))
    if (layer >= k->layerBegin && layer < k->layerEnd) act.push_back(k);
  if (act.empty() || rowEnd <= rowBegin) return {MaskSegment{rowBegin, rowEnd, {}, {}}};

  // Which active knockouts each row is a query of: [rows, m].
  const size_t m = act.size(), n = size_t(rowEnd - rowBegin);
  std::vector<uint8_t> member(n * m, 0);
  for (size_t a = 0; a < m; ++a) {
    for (int i : act[a]->from)
      if (i >= rowBegin && i < rowEnd) member[size_t(i - rowBegin) * m + a] = 1;
    if (act[a]->fromIndex >= 0)
      for (int i = std::max(rowBegin, act[a]->fromIndex); i < rowEnd; ++i)
        member[size_t(i - rowBegin) * m + a] = 1;
  }
  auto cls = [&](int i) { return member.data() + size_t(i - rowBegin) * m; };
  auto none = [&](const uint8_t* c) { return std::all_of(c, c + m, [](uint8_t x) { return !x; }); };

  std::vector<MaskSegment> segs;
  auto close = [&](int begin, int end, const uint8_t* c) {
    MaskSegment s{begin, end, {}, {}};
    if (c) {
      s.blockQ.assign(size_t(end), 0);
      s.blockK.assign(size_t(end), 0);
      for (int i = begin; i < end; ++i)
        if (std::memcmp(cls(i), c, m) == 0) s.blockQ[size_t(i)] = 1;
      for (size_t a = 0; a < m; ++a)
        if (c[a])
          for (int j : act[a]->to)
            if (j >= 0 && j < end) s.blockK[size_t(j)] = 1;
    }
    segs.push_back(std::move(s));
  };
  int start = rowBegin;
  const uint8_t* cur = nullptr;
  for (int i = rowBegin; i < rowEnd; ++i) {
    const uint8_t* c = cls(i);
    if (none(c)) continue;
    if (!cur) {
      cur = c;
    } else if (std::memcmp(cur, c, m) != 0) {
      close(start, i, cur);
      start = i;
      cur = c;
    }
  }
  close(start, rowEnd, cur);
  return segs;
}

void validateMasks(const Interventions& iv, int T, int nLayer, int nHeadKv) {
  for (const Knockout* k : allKnockouts(iv))
    for (const auto* v : {&k->from, &k->to})
      for (int i : *v)
        if (i < 0 || i >= T)
          throw std::invalid_argument("knockout token index " + std::to_string(i) +
                                      " is out of range");
  if (!iv.eviction) return;
  const HeadEviction& e = *iv.eviction;
  if (e.length < 0 || e.fromIndex < 0)
    throw std::invalid_argument("head eviction: negative length or first row");
  if (e.keep.size() > size_t(nLayer))
    throw std::invalid_argument("head eviction: " + std::to_string(e.keep.size()) +
                                " layers given, the model has " + std::to_string(nLayer));
  for (size_t l = 0; l < e.keep.size(); ++l)
    if (!e.keep[l].empty() && e.keep[l].size() != size_t(nHeadKv) * size_t(e.length))
      throw std::invalid_argument("head eviction: layer " + std::to_string(l) + " has " +
                                  std::to_string(e.keep[l].size()) + " entries, expected " +
                                  std::to_string(nHeadKv) + " x " + std::to_string(e.length));
}

int maskInvalidationPoint(const Interventions& a, const Interventions& b, int T) {
  int p = T;
  if (a.knockout != b.knockout || a.masks != b.masks) {
    // Rows before the first query of a knockout present in only one of the two see the same
    // masks (knockouts both hold act alike on every row).
    const auto ka = allKnockouts(a), kb = allKnockouts(b);
    auto in = [](const Knockout* k, const std::vector<const Knockout*>& list) {
      return std::any_of(list.begin(), list.end(), [&](const Knockout* x) { return *x == *k; });
    };
    for (const auto* list : {&ka, &kb})
      for (const Knockout* k : *list) {
        if (k->layerEnd <= k->layerBegin || (in(k, ka) && in(k, kb))) continue;
        for (int i : k->from) p = std::min(p, std::max(0, i));
        if (k->fromIndex >= 0) p = std::min(p, k->fromIndex);
      }
  }
  if (a.eviction != b.eviction)
    for (const Interventions* iv : {&a, &b})
      if (iv->eviction) p = std::min(p, iv->eviction->fromIndex);
  return p;
}

namespace {

// The eviction row of `layer` uploaded to scratch, or null when the layer evicts nothing.
const uint8_t* headKeepFor(kern::Backend& b, const Interventions& iv, int layer, int nHeadKv,
                           const MaskScratch& scratch) {
  if (!iv.eviction || layer < 0 || layer >= static_cast<int>(iv.eviction->keep.size()))
    return nullptr;
  const auto& keep = iv.eviction->keep[size_t(layer)];
  if (keep.empty() || iv.eviction->length <= 0) return nullptr;
  if (keep.size() != size_t(nHeadKv) * size_t(iv.eviction->length))
    throw std::invalid_argument("head eviction: layer " + std::to_string(layer) + " has " +
                                std::to_string(keep.size()) +
                                " entries, expected nHeadKv x length");
  auto* dev = static_cast<uint8_t*>(scratch("headkeep", keep.size()));
  b.upload(dev, keep.data(), keep.size());
  return dev;
}

kern::AttnArgs segmentArgs(const kern::AttnArgs& a, const MaskSegment& s, int p) {
  kern::AttnArgs x = a;
  const size_t qd = size_t(a.nHead) * a.headDim;
  x.nQ = s.rowEnd - s.rowBegin;
  x.nKv = s.rowEnd;
  x.q = a.q + size_t(s.rowBegin - p) * qd;
  x.out = a.out ? a.out + size_t(s.rowBegin - p) * qd : nullptr;
  x.entropy = x.colSum = x.lastRow = nullptr;
  x.blockQ = x.blockK = nullptr;
  return x;
}

void setBlocks(kern::Backend& b, kern::AttnArgs& x, const MaskSegment& s, size_t index,
               const MaskScratch& scratch) {
  if (s.blockQ.empty()) return;
  // Separate buffers per segment: an asynchronous backend may still read the previous ones.
  auto* bq = static_cast<uint8_t*>(scratch("blockq" + std::to_string(index), s.blockQ.size()));
  auto* bk = static_cast<uint8_t*>(scratch("blockk" + std::to_string(index), s.blockK.size()));
  b.upload(bq, s.blockQ.data(), s.blockQ.size());
  b.upload(bk, s.blockK.data(), s.blockK.size());
  x.blockQ = bq;
  x.blockK = bk;
}

}  // namespace

kern::AttnArgs layerAttnArgs(const Trace& tr, int layer, int nQ, int nKv, const float* q,
                             const float* k, const float* v, float* out, kern::Backend* b,
                             const MaskScratch& scratch) {
  kern::AttnArgs a;
  a.nQ = nQ;
  a.nKv = nKv;
  a.nHead = tr.nHead;
  a.nHeadKv = tr.nHeadKv;
  a.headDim = tr.headDim;
  a.scale = tr.attnScale;
  a.q = q;
  a.k = k;
  a.v = v;
  a.out = out;
  if (layer < 0 || layer >= static_cast<int>(tr.layerAttn.size())) return a;
  const LayerAttention& la = tr.layerAttn[size_t(layer)];
  a.window = la.window;
  a.softcap = la.softcap;
  if (la.sinks.empty()) return a;
  if (la.sinks.size() != size_t(a.nHead))
    throw std::invalid_argument("attention: the trace's sinks do not match its heads");
  if (!b || b->hostMemory()) {
    a.sinks = la.sinks.data();
    return a;
  }
  auto* dev = static_cast<float*>(scratch("m_sinks", la.sinks.size() * 4));
  b->upload(dev, la.sinks.data(), la.sinks.size() * 4);
  a.sinks = dev;
  return a;
}

void maskedAttention(kern::Backend& b, const kern::AttnArgs& a, const Interventions& iv, int layer,
                     const MaskScratch& scratch, MaskedAttnStats* stats) {
  const int T = a.nKv, p = a.nKv - a.nQ, H = a.nHead;
  const uint8_t* keep = headKeepFor(b, iv, layer, a.nHeadKv, scratch);
  const auto segs = maskSegments(iv, layer, p, T);
  if (stats) {
    stats->entropy.assign(size_t(H) * a.nQ, 0.0f);
    stats->colSum.assign(size_t(H) * T, 0.0f);
    stats->lastRow.assign(size_t(H) * T, 0.0f);
  }
  std::vector<float> ent, cs;
  for (size_t si = 0; si < segs.size(); ++si) {
    const MaskSegment& s = segs[si];
    kern::AttnArgs x = segmentArgs(a, s, p);
    setBlocks(b, x, s, si, scratch);
    if (keep) {
      x.headKeep = keep;
      x.headKeepLen = iv.eviction->length;
      x.headKeepFrom = iv.eviction->fromIndex;
    }
    if (stats) {
      x.entropy = static_cast<float*>(scratch("m_entropy", size_t(H) * x.nQ * 4));
      x.colSum = static_cast<float*>(scratch("m_colsum", size_t(H) * x.nKv * 4));
      b.fill(x.colSum, 0.0f, size_t(H) * x.nKv);
      if (s.rowEnd == T) x.lastRow = static_cast<float*>(scratch("m_lastrow", size_t(H) * T * 4));
    }
    b.attention(x);
    if (!stats) continue;
    ent.resize(size_t(H) * x.nQ);
    cs.resize(size_t(H) * x.nKv);
    b.download(ent.data(), x.entropy, ent.size() * 4);
    b.download(cs.data(), x.colSum, cs.size() * 4);
    for (int h = 0; h < H; ++h) {
      std::memcpy(stats->entropy.data() + size_t(h) * a.nQ + (s.rowBegin - p),
                  ent.data() + size_t(h) * x.nQ, size_t(x.nQ) * 4);
      float* dst = stats->colSum.data() + size_t(h) * T;
      const float* src = cs.data() + size_t(h) * x.nKv;
      for (int j = 0; j < x.nKv; ++j) dst[j] += src[j];
    }
    if (x.lastRow) b.download(stats->lastRow.data(), x.lastRow, size_t(H) * T * 4);
  }
}

void maskedAttentionMap(kern::Backend& b, const kern::AttnArgs& a, const Interventions& iv,
                        int layer, int head, const MaskScratch& scratch, float* out) {
  const int T = a.nKv, p = a.nKv - a.nQ;
  const uint8_t* keep = headKeepFor(b, iv, layer, a.nHeadKv, scratch);
  const auto segs = maskSegments(iv, layer, p, T);
  std::vector<float> tmp;
  for (size_t si = 0; si < segs.size(); ++si) {
    const MaskSegment& s = segs[si];
    kern::AttnArgs x = segmentArgs(a, s, p);
    setBlocks(b, x, s, si, scratch);
    if (keep) {
      x.headKeep = keep;
      x.headKeepLen = iv.eviction->length;
      x.headKeepFrom = iv.eviction->fromIndex;
    }
    auto* dev = static_cast<float*>(scratch("m_map", size_t(x.nQ) * x.nKv * 4));
    b.attentionMap(x, head, dev);
    tmp.resize(size_t(x.nQ) * x.nKv);
    b.download(tmp.data(), dev, tmp.size() * 4);
    for (int i = 0; i < x.nQ; ++i) {
      float* dst = out + size_t(s.rowBegin - p + i) * T;
      std::memcpy(dst, tmp.data() + size_t(i) * x.nKv, size_t(x.nKv) * 4);
      std::fill(dst + x.nKv, dst + T, 0.0f);
    }
  }
}

}  // namespace ll::rt
