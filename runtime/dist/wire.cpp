// Byte encoding of pipeline requests and captured layers (see wire.h).
#include "runtime/dist/wire.h"

namespace ll::rt::dist {

void WireWriter::putFloats(const float* data, size_t count) {
  put<uint64_t>(count);
  const char* p = reinterpret_cast<const char*>(data);
  m_bytes.insert(m_bytes.end(), p, p + count * sizeof(float));
}

void WireWriter::putString(const std::string& s) {
  put<uint64_t>(s.size());
  m_bytes.insert(m_bytes.end(), s.begin(), s.end());
}

std::string WireReader::getString() {
  const std::vector<char> v = getVec<char>();
  return std::string(v.begin(), v.end());
}

namespace {

void writeKnockout(WireWriter& w, const Knockout& k) {
  w.putVec(k.from);
  w.putVec(k.to);
  w.put<int32_t>(k.layerBegin);
  w.put<int32_t>(k.layerEnd);
  w.put<int32_t>(k.fromIndex);
}

Knockout readKnockout(WireReader& r) {
  Knockout k;
  k.from = r.getVec<int>();
  k.to = r.getVec<int>();
  k.layerBegin = r.get<int32_t>();
  k.layerEnd = r.get<int32_t>();
  k.fromIndex = r.get<int32_t>();
  return k;
}

// Enums travel as their underlying value and are checked on the way in.
template <class E>
E readEnum(WireReader& r, int count, const char* what) {
  const int32_t v = r.get<int32_t>();
  if (v < 0 || v >= count)
    throw std::runtime_error(std::string("pipeline message: bad ") + what + " " +
                             std::to_string(v));
  return static_cast<E>(v);
}

void writeInterventions(WireWriter& w, const Interventions& iv) {
  w.put<uint64_t>(iv.steering.size());
  for (const Steering& s : iv.steering) {
    w.put<int32_t>(s.layer);
    w.put<float>(s.alpha);
    w.put<int32_t>(s.fromPos);
    w.putVec(s.vector);
  }
  w.put<uint64_t>(iv.router.size());
  for (const RouterEdit& e : iv.router) {
    w.put<int32_t>(e.layer);
    w.put<int32_t>(e.expert);
    w.put<int32_t>(static_cast<int32_t>(e.kind));
    w.put<float>(e.value);
  }
  w.put<uint8_t>(iv.knockout.has_value());
  if (iv.knockout) writeKnockout(w, *iv.knockout);
  w.put<uint64_t>(iv.masks.size());
  for (const Knockout& k : iv.masks) writeKnockout(w, k);
  w.put<uint8_t>(iv.eviction.has_value());
  if (iv.eviction) {
    w.put<int32_t>(iv.eviction->fromIndex);
    w.put<int32_t>(iv.eviction->length);
    w.put<uint64_t>(iv.eviction->keep.size());
    for (const auto& k : iv.eviction->keep) w.putVec(k);
  }
  w.put<uint64_t>(iv.skips.size());
  for (const LayerSkip& k : iv.skips) {
    w.put<int32_t>(k.layer);
    w.put<int32_t>(static_cast<int32_t>(k.part));
  }
  w.put<uint64_t>(iv.patches.size());
  for (const Patch& p : iv.patches) {
    w.put<int32_t>(static_cast<int32_t>(p.site));
    w.put<int32_t>(p.layer);
    w.put<int32_t>(p.index);
    w.put<int32_t>(p.head);
    w.put<uint8_t>(p.add);
    w.putVec(p.value);
  }
}

// A count read from the message, bounded by the bytes left (each entry takes at least one).
size_t readCount(WireReader& r, size_t minEntryBytes) {
  const uint64_t n = r.get<uint64_t>();
  if (n > r.left() / minEntryBytes)
    throw std::runtime_error("pipeline message: " + std::to_string(n) +
                             " entries do not fit in the message");
  return size_t(n);
}

Interventions readInterventions(WireReader& r) {
  Interventions iv;
  const size_t ns = readCount(r, 20);
  for (size_t i = 0; i < ns; ++i) {
    Steering s;
    s.layer = r.get<int32_t>();
    s.alpha = r.get<float>();
    s.fromPos = r.get<int32_t>();
    s.vector = r.getVec<float>();
    iv.steering.push_back(std::move(s));
  }
  const size_t ne = readCount(r, 16);
  for (size_t i = 0; i < ne; ++i) {
    RouterEdit e;
    e.layer = r.get<int32_t>();
    e.expert = r.get<int32_t>();
    e.kind = readEnum<RouterEditKind>(r, 4, "router edit kind");
    e.value = r.get<float>();
    iv.router.push_back(e);
  }
  if (r.get<uint8_t>()) iv.knockout = readKnockout(r);
  const size_t nm = readCount(r, 28);
  for (size_t i = 0; i < nm; ++i) iv.masks.push_back(readKnockout(r));
  if (r.get<uint8_t>()) {
    HeadEviction e;
    e.fromIndex = r.get<int32_t>();
    e.length = r.get<int32_t>();
    const size_t nk = readCount(r, 8);
    for (size_t i = 0; i < nk; ++i) e.keep.push_back(r.getVec<uint8_t>());
    iv.eviction = std::move(e);
  }
  const size_t nk = readCount(r, 8);
  for (size_t i = 0; i < nk; ++i) {
    LayerSkip k;
    k.layer = r.get<int32_t>();
    k.part = readEnum<SkipPart>(r, 3, "layer skip part");
    iv.skips.push_back(k);
  }
  const size_t np = readCount(r, 25);
  for (size_t i = 0; i < np; ++i) {
    Patch p;
    p.site = readEnum<PatchSite>(r, 5, "patch site");
    p.layer = r.get<int32_t>();
    p.index = r.get<int32_t>();
    p.head = r.get<int32_t>();
    p.add = r.get<uint8_t>() != 0;
    p.value = r.getVec<float>();
    iv.patches.push_back(std::move(p));
  }
  return iv;
}

}  // namespace

void writeRequest(WireWriter& w, const StageRequest& r) {
  w.putVec(r.ids);
  w.putVec(r.positions);
  writeInterventions(w, r.interventions);
  w.put<uint8_t>(r.capture.enabled);
  w.put<uint8_t>(r.capture.allLogits);
  w.put<int32_t>(r.capture.lastLayer);
  w.put<uint8_t>(r.capture.components);
  w.put<int32_t>(r.reuse);
  w.put<uint8_t>(r.publish);
  w.put<int32_t>(r.running);
  w.put<uint64_t>(r.pass);
}

StageRequest readRequest(WireReader& r) {
  StageRequest q;
  q.ids = r.getVec<int32_t>();
  q.positions = r.getVec<int32_t>();
  q.interventions = readInterventions(r);
  q.capture.enabled = r.get<uint8_t>() != 0;
  q.capture.allLogits = r.get<uint8_t>() != 0;
  q.capture.lastLayer = r.get<int32_t>();
  q.capture.components = r.get<uint8_t>() != 0;
  q.reuse = r.get<int32_t>();
  q.publish = r.get<uint8_t>() != 0;
  q.running = r.get<int32_t>();
  q.pass = r.get<uint64_t>();
  if (!r.done()) throw std::runtime_error("pipeline message: run request has trailing bytes");
  return q;
}

void writeTensor(WireWriter& w, const TraceTensor<float>& t) {
  w.putFloats(t.data(), t.size());
}

TraceTensor<float> readTensor(WireReader& r) {
  return TraceTensor<float>(r.getVec<float>());
}

void writeLayer(WireWriter& w, const LayerTrace& L) {
  for (const TraceTensor<float>* t :
       {&L.resid, &L.residMid, &L.qTail, &L.k, &L.attnOut, &L.mlpOut, &L.headOut})
    writeTensor(w, *t);
  for (const std::vector<float>* v :
       {&L.entropy, &L.lastRow, &L.colSum, &L.routerLogits, &L.routerProbs, &L.expertWeights})
    w.putVec(*v);
  w.putVec(L.experts);
}

LayerTrace readLayer(WireReader& r) {
  LayerTrace L;
  for (TraceTensor<float>* t :
       {&L.resid, &L.residMid, &L.qTail, &L.k, &L.attnOut, &L.mlpOut, &L.headOut})
    *t = readTensor(r);
  for (std::vector<float>* v :
       {&L.entropy, &L.lastRow, &L.colSum, &L.routerLogits, &L.routerProbs, &L.expertWeights})
    *v = r.getVec<float>();
  L.experts = r.getVec<int32_t>();
  return L;
}

}  // namespace ll::rt::dist
