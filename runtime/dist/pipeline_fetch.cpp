// Rank 0's driver, the captures left on their ranks: the lazy trace of a pass (its tensors'
// sources, its small arrays fetched with its description), one tensor's fetch, and the release
// of kept passes (see remote_captures.h).
#include <algorithm>
#include <cstring>

#include "runtime/dist/pipeline.h"
#include "runtime/dist/pipeline_commands.h"

namespace ll::rt::dist {

using namespace detail;

namespace {

const char* fieldName(CaptureField f) {
  static const char* const kNames[kFields] = {"resid",    "resid_mid", "queries",
                                              "keys",     "attn_out",  "mlp_out",
                                              "head_out", "logits",    "final_norm"};
  return kNames[int(f)];
}

std::string tensorText(uint64_t pass, int layer, CaptureField f) {
  const std::string where = f == CaptureField::Logits || f == CaptureField::FinalNorm
                                ? ""
                                : "layer " + std::to_string(layer) + "'s ";
  return where + fieldName(f) + " of pass " + std::to_string(pass);
}

}  // namespace

void PipelineDriver::setFetchGuard(FetchGuard guard) {
  m_link->guard = std::move(guard);
}

void PipelineDriver::flushReleases() {
  const std::vector<uint64_t> passes = m_releases->take();
  if (passes.empty() || m_down) return;
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::Release));
  WireWriter w;
  w.putVec(passes);
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  for (int r = 1; r < m_t.size(); ++r) command(r, cmd);
}

std::shared_ptr<const Trace> PipelineDriver::lazyTrace() {
  if (!m_trace) throw std::logic_error("pipeline: no pass to hand out");
  if (m_passShared) return m_trace;
  Trace& tr = *m_trace;
  if (tr.captured)
    for (int l = m_stages[0].first; l < m_stages[0].last; ++l) fetchLayer(l);  // rank 0's own
  if (m_t.size() == 1) {
    fetchHead();
    m_passShared = true;
    return m_trace;
  }
  // From here the pass's KeptPass releases it, whatever happens next.
  auto pass = std::make_shared<const KeptPass>(m_pass, m_link, m_releases);
  m_passShared = true;
  for (int r = 1; r < m_t.size(); ++r) describeFrom(r, pass);
  return m_trace;
}

void PipelineDriver::describeFrom(int rank, const std::shared_ptr<const KeptPass>& pass) {
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::Describe));
  WireWriter w;
  w.put<uint64_t>(pass->id());
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  command(rank, cmd);
  const std::vector<char> b =
      reply(rank, kTagData, "no description of pass " + std::to_string(pass->id()));
  WireReader rd(b);
  if (!rd.get<uint8_t>()) throw std::runtime_error(rankText(rank) + rd.getString());
  Trace& tr = *m_trace;
  const size_t T = size_t(tr.nTokens);
  // No layer tensor is wider than a row of the residual, the queries or the keys.
  const size_t most =
      T * size_t(std::max({tr.nEmbd, tr.nHead * tr.headDim, tr.nHeadKv * tr.headDim}));
  const auto bad = [&](const std::string& what) {
    return std::runtime_error(rankText(rank) + "described pass " + std::to_string(pass->id()) +
                              " with " + what + " that does not match the pass");
  };
  for (int l = m_stages[size_t(rank)].first; l < m_stages[size_t(rank)].last; ++l) {
    LayerTrace none;  // a pass without capture has no layers to fill
    LayerTrace& L = l < int(tr.layers.size()) ? tr.layers[size_t(l)] : none;
    for (int f = 0; f < kLayerFields; ++f) {
      const uint64_t n = rd.get<uint64_t>();
      if (n > most) throw bad("a " + std::string(fieldName(CaptureField(f))) + " size");
      if (n)
        captureOf(L, CaptureField(f))
            .assignLazy(std::make_shared<RemoteTensor>(pass, rank, l, CaptureField(f)), n);
      else
        captureOf(L, CaptureField(f)) = TraceTensor<float>();
    }
    for (std::vector<float>* v :
         {&L.entropy, &L.lastRow, &L.colSum, &L.routerLogits, &L.routerProbs, &L.expertWeights})
      *v = rd.getVec<float>();
    L.experts = rd.getVec<int32_t>();
  }
  if (rank == m_t.size() - 1) {
    const uint64_t logits = rd.get<uint64_t>(), finalNorm = rd.get<uint64_t>();
    const size_t rows = tr.allLogits ? T : 1;
    if (logits != rows * size_t(tr.nVocab)) throw bad(std::to_string(logits) + " logits");
    if (finalNorm > T * size_t(tr.nEmbd)) throw bad("a final norm size");
    tr.logits.assignLazy(std::make_shared<RemoteTensor>(pass, rank, -1, CaptureField::Logits),
                         logits);
    if (finalNorm)
      tr.finalNorm.assignLazy(
          std::make_shared<RemoteTensor>(pass, rank, -1, CaptureField::FinalNorm), finalNorm);
  }
  if (!rd.done()) throw bad("more data");
}

void PipelineDriver::fetchTensor(uint64_t pass, int rank, int layer, CaptureField f, float* dst,
                                 size_t count) {
  const std::string what = tensorText(pass, layer, f);
  if (m_down)
    throw std::runtime_error("pipeline: the session was closed before " + what +
                             " was fetched; run it again");
  flushReleases();
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::FetchTensor));
  WireWriter w;
  w.put<uint64_t>(pass);
  w.put<int32_t>(layer);
  w.put<uint8_t>(static_cast<uint8_t>(f));
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  command(rank, cmd);
  const std::vector<char> b = reply(rank, kTagData, what + " not sent");
  ++m_fetchCommands;
  m_fetchBytes += b.size();
  WireReader rd(b);
  if (!rd.get<uint8_t>()) throw std::runtime_error(rankText(rank) + what + ": " + rd.getString());
  const std::vector<float> v = rd.getVec<float>();
  if (v.size() != count)
    throw std::runtime_error(rankText(rank) + "sent " + std::to_string(v.size()) + " values for " +
                             what + ", described as " + std::to_string(count));
  std::copy(v.begin(), v.end(), dst);
}

}  // namespace ll::rt::dist
