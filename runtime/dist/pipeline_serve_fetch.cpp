// The computing ranks' side of rank 0's fetches: the passes each session keeps (by pass number,
// bounded) and the replies that send a layer, the head, a pass's description or one tensor.
#include <algorithm>
#include <string>

#include "runtime/dist/pipeline_stage.h"

namespace ll::rt::dist::detail {

void KeptTraces::keep(uint64_t pass, std::shared_ptr<const Trace> tr) {
  m_passes[pass] = std::move(tr);
  while (m_passes.size() > kKeptPasses) {
    m_droppedUpTo = std::max(m_droppedUpTo, m_passes.begin()->first);
    m_passes.erase(m_passes.begin());
  }
}

const Trace& KeptTraces::at(uint64_t pass) const {
  auto it = m_passes.find(pass);
  if (it != m_passes.end() && it->second) return *it->second;
  const std::string p = "pass " + std::to_string(pass);
  if (pass <= m_droppedUpTo)
    throw std::runtime_error(p + " is no longer kept on this rank (a rank keeps the captures of " +
                             std::to_string(kKeptPasses) + " passes per session; run it again)");
  throw std::runtime_error(p + " is not kept on this rank (released, or it failed here)");
}

namespace {

// The kept trace of the pass the reader names next; throws when there is none.
const Trace& passOf(const Stage* st, WireReader& rd) {
  if (!st) throw std::runtime_error("the session is not open on this rank");
  return st->kept.at(rd.get<uint64_t>());
}

void checkOwn(const Stage& st, int rank, int l) {
  const StageRange& mine = st.stages[size_t(rank)];
  if (l < mine.first || l >= mine.last)
    throw std::runtime_error("layer " + std::to_string(l) + " is not on this rank");
}

template <class F>
std::vector<char> replying(F&& f) {
  try {
    WireWriter w;
    w.put<uint8_t>(1);
    f(w);
    return std::move(w.bytes());
  } catch (const std::exception& e) {
    return status(false, e.what());
  }
}

}  // namespace

std::vector<char> layerReply(const Stage* st, int rank, WireReader& rd) {
  return replying([&](WireWriter& w) {
    const Trace& tr = passOf(st, rd);
    const int l = rd.get<int32_t>();
    if (!tr.captured) throw std::runtime_error("no captured pass to fetch from");
    checkOwn(*st, rank, l);
    writeLayer(w, tr.layers[size_t(l)]);
    writeTensor(w, l > 0 ? tr.layers[size_t(l - 1)].resid : TraceTensor<float>());
  });
}

std::vector<char> headReply(const Stage* st, bool lastStage, WireReader& rd) {
  return replying([&](WireWriter& w) {
    const Trace& tr = passOf(st, rd);
    if (!lastStage) throw std::runtime_error("no pass with logits on this rank");
    writeTensor(w, tr.logits);
    writeTensor(w, tr.finalNorm);
  });
}

// Per layer of this rank's stage: the sizes of its tensors, then its small arrays (as writeLayer
// orders them); the last rank adds the sizes of the logits and the final norm.
std::vector<char> describeReply(const Stage* st, int rank, bool lastStage, WireReader& rd) {
  return replying([&](WireWriter& w) {
    const Trace& tr = passOf(st, rd);
    const StageRange& mine = st->stages[size_t(rank)];
    static const LayerTrace kNone;  // a pass without capture has no layers
    for (int l = mine.first; l < mine.last; ++l) {
      const LayerTrace& L = l < int(tr.layers.size()) ? tr.layers[size_t(l)] : kNone;
      for (int f = 0; f < kLayerFields; ++f) w.put<uint64_t>(captureOf(L, CaptureField(f)).size());
      for (const std::vector<float>* v :
           {&L.entropy, &L.lastRow, &L.colSum, &L.routerLogits, &L.routerProbs, &L.expertWeights})
        w.putVec(*v);
      w.putVec(L.experts);
    }
    if (lastStage) {
      w.put<uint64_t>(tr.logits.size());
      w.put<uint64_t>(tr.finalNorm.size());
    }
  });
}

std::vector<char> tensorReply(const Stage* st, int rank, bool lastStage, WireReader& rd) {
  return replying([&](WireWriter& w) {
    const Trace& tr = passOf(st, rd);
    const int l = rd.get<int32_t>();
    const uint8_t f = rd.get<uint8_t>();
    if (f >= kFields) throw std::runtime_error("unknown capture field " + std::to_string(f));
    const auto field = CaptureField(f);
    if (field == CaptureField::Logits || field == CaptureField::FinalNorm) {
      if (!lastStage) throw std::runtime_error("no pass with logits on this rank");
    } else {
      checkOwn(*st, rank, l);
      if (l >= int(tr.layers.size())) throw std::runtime_error("the pass has no such layer");
    }
    writeTensor(w, captureOf(tr, l, field));
  });
}

void releasePasses(Stage* st, WireReader& rd) {
  try {
    const std::vector<uint64_t> passes = rd.getVec<uint64_t>();
    if (st)
      for (uint64_t p : passes) st->kept.release(p);
  } catch (const std::exception&) {  // a malformed release frees nothing; there is no reply
  }
}

}  // namespace ll::rt::dist::detail
