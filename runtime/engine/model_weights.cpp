#include "runtime/engine/model_weights.h"

#include <stdexcept>

namespace ll::rt {

namespace {
std::string shapeText(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

ModelWeights::ModelWeights(const Model& model, kern::Backend& backend, WeightScope scope)
    : m_model(model), m_backend(backend) {
  const ModelSpec& s = model.spec;
  if (s.nLayer <= 0 || s.nEmbd <= 0 || s.nHead <= 0 || s.nHeadKv <= 0 || s.headDim <= 0 ||
      s.nVocab <= 0 || s.nHead % s.nHeadKv != 0)
    throw std::runtime_error(model.path.string() + ": inconsistent hyperparameters");
  m_first = scope.first;
  m_last = scope.last < 0 ? s.nLayer : scope.last;
  m_extra = scope.extra;
  // A device backend's traces store every query and the final norm: nothing to recompute.
  if (m_extra == WeightScope::Extra::Queries && !backend.hostMemory())
    m_extra = WeightScope::Extra::None;
  if (m_first < 0 || m_last > s.nLayer || m_first >= m_last)
    throw std::invalid_argument("weights for layers [" + std::to_string(m_first) + ", " +
                                std::to_string(m_last) + "): not within the model's " +
                                std::to_string(s.nLayer) + " layers");
  const ArchDesc& a = archOf(s);
  m_layers.resize(s.nLayer);
  for (const TensorDesc& t : a.tensors) {
    if (!layerScoped(t)) {
      bind(t, -1);
      continue;
    }
    for (int l = 0; l < s.nLayer; ++l) bind(t, l);
  }
  // A tied LM head is the token embedding: bound for the head's sake on a stage that needs it.
  if (!output && wanted(Role::Output, -1)) {
    if (!tokenEmbd)
      for (const TensorDesc& t : a.tensors)
        if (t.role == Role::TokenEmbd) bind(t, -1, true);
    output = tokenEmbd;
  }
  checkComplete();
}

// What every block needs, whatever the table made optional (bound layers and globals only).
void ModelWeights::checkComplete() const {
  const ModelSpec& s = m_model.spec;
  auto need = [&](const kern::Weight* w, const std::string& what) {
    if (!w) throw std::runtime_error(m_model.path.string() + ": missing tensor " + what);
  };
  if (m_first == 0) need(tokenEmbd, "token_embd.weight");
  if (m_last == s.nLayer) need(outputNorm, "output_norm.weight");
  for (int l = m_first; l < m_last; ++l) {
    const LayerWeights& L = m_layers[size_t(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    need(L.attnNorm, b + "attn_norm");
    need(L.wq, b + "attn_q");
    need(L.wk, b + "attn_k");
    need(L.wv, b + "attn_v");
    need(L.wo, b + "attn_output");
    need(L.ffnNorm, b + "ffn_norm");
    if (L.isMoe()) {
      need(L.router, b + "ffn_gate_inp");
      if (L.experts.size() != size_t(s.nExpert)) need(nullptr, b + "ffn_*_exps");
      for (const auto& e : L.experts) {
        need(e.up, b + "ffn_up_exps");
        need(e.down, b + "ffn_down_exps");
        need(e.gate, b + "ffn_gate_exps");
      }
    } else {
      need(L.up, b + "ffn_up");
      need(L.down, b + "ffn_down");
      if (s.act != Activation::GeluTanh) need(L.gate, b + "ffn_gate");
    }
    const int shexp = (L.sharedGate != nullptr) + (L.shared.gate != nullptr) +
                      (L.shared.up != nullptr) + (L.shared.down != nullptr);
    if (shexp != 0 && shexp != 4) need(nullptr, b + "ffn_*_shexp (a shared expert needs all four)");
    if (s.postNorms) {
      need(L.postAttnNorm, b + "post_attention_norm");
      need(L.postFfnNorm, b + "post_ffw_norm");
    }
    if (s.attnSinks) need(L.sinks, b + "attn_sinks");
  }
}

bool ModelWeights::wanted(Role role, int l) const {
  using Extra = WeightScope::Extra;
  const bool firstStage = m_first == 0, lastStage = m_last == m_model.spec.nLayer;
  if (l < 0) switch (role) {
      case Role::TokenEmbd:
      case Role::PosEmbd:
        return firstStage;
      case Role::OutputNorm:
      case Role::OutputNormB:
        return lastStage || m_extra != Extra::None;
      case Role::Output:
        return lastStage || m_extra == Extra::Analyses;
      default:
        return true;  // rope factors: read from the spec, never bound
    }
  if (role == Role::Sinks || (l >= m_first && l < m_last)) return true;
  if (m_extra == Extra::None) return false;
  switch (role) {
    case Role::AttnNorm:
    case Role::AttnNormB:
    case Role::Wq:
    case Role::Bq:
    case Role::QNorm:
      return true;
    case Role::Wv:
    case Role::Bv:
    case Role::Wo:
    case Role::Bo:
    case Role::PostAttnNorm:
    case Role::PostFfnNorm:
    case Role::DownB:
      return m_extra == Extra::Analyses;
    default:
      return false;
  }
}

const LayerWeights& ModelWeights::layer(int l) const {
  if (l < 0 || l >= nLayer())
    throw std::out_of_range("layer " + std::to_string(l) + " is out of range (0.." +
                            std::to_string(nLayer() - 1) + ")");
  if ((l < m_first || l >= m_last) && m_extra == WeightScope::Extra::None)
    throw std::logic_error("layer " + std::to_string(l) +
                           "'s weights are not loaded on this rank (it holds layers " +
                           std::to_string(m_first) + "-" + std::to_string(m_last - 1) + ")");
  return m_layers[size_t(l)];
}

const kern::Weight& ModelWeights::embeddings() const {
  if (!tokenEmbd)
    throw std::logic_error("the token embeddings are not loaded on this rank (it holds layers " +
                           std::to_string(m_first) + "-" + std::to_string(m_last - 1) + ")");
  return *tokenEmbd;
}

const kern::Weight& ModelWeights::head() const {
  if (!output || !outputNorm)
    throw std::logic_error("the LM head is not loaded on this rank (it holds layers " +
                           std::to_string(m_first) + "-" + std::to_string(m_last - 1) + ")");
  return *output;
}

const kern::Weight** ModelWeights::slot(Role role, int l) {
  LayerWeights* L = l >= 0 ? &m_layers[size_t(l)] : nullptr;
  switch (role) {
    case Role::TokenEmbd:
      return &tokenEmbd;
    case Role::PosEmbd:
      return &posEmbd;
    case Role::OutputNorm:
      return &outputNorm;
    case Role::OutputNormB:
      return &outputNormB;
    case Role::Output:
      return &output;
    case Role::AttnNorm:
      return &L->attnNorm;
    case Role::AttnNormB:
      return &L->attnNormB;
    case Role::Wq:
      return &L->wq;
    case Role::Wk:
      return &L->wk;
    case Role::Wv:
      return &L->wv;
    case Role::Bq:
      return &L->bq;
    case Role::Bk:
      return &L->bk;
    case Role::Bv:
      return &L->bv;
    case Role::Wo:
      return &L->wo;
    case Role::Bo:
      return &L->bo;
    case Role::QNorm:
      return &L->qNorm;
    case Role::KNorm:
      return &L->kNorm;
    case Role::Sinks:
      return &L->sinks;
    case Role::PostAttnNorm:
      return &L->postAttnNorm;
    case Role::FfnNorm:
      return &L->ffnNorm;
    case Role::FfnNormB:
      return &L->ffnNormB;
    case Role::Gate:
      return &L->gate;
    case Role::Up:
      return &L->up;
    case Role::Down:
      return &L->down;
    case Role::UpB:
      return &L->upB;
    case Role::DownB:
      return &L->downB;
    case Role::PostFfnNorm:
      return &L->postFfnNorm;
    case Role::Router:
      return &L->router;
    case Role::RouterB:
      return &L->routerB;
    case Role::ShexpGateInp:
      return &L->sharedGate;
    case Role::GateShexp:
      return &L->shared.gate;
    case Role::UpShexp:
      return &L->shared.up;
    case Role::DownShexp:
      return &L->shared.down;
    default:
      return nullptr;  // split roles and tensors the engine reads from the spec
  }
}

void ModelWeights::bind(const TensorDesc& t, int l, bool force) {
  const ModelSpec& s = m_model.spec;
  const std::string name = tensorName(t, l);
  const TensorData* td = m_model.weights.find(name);
  if (!td) {
    if (tensorRequired(t, s))
      throw std::runtime_error(m_model.path.string() + ": missing tensor " + name);
    return;
  }
  if (t.role == Role::Router) m_layers[size_t(l)].moe = true;
  if (t.role == Role::PosEmbd) m_positionRows = td->rows();
  const std::vector<int64_t> want = tensorShape(t, s);
  int64_t elems = 1;
  for (int64_t x : td->ne) elems *= x;
  // Vectors: any shape with the right element count (GGUF stores them 1-D).
  const bool ok = t.rank == 1 ? elems == want[0] : td->ne == want;
  if (!ok)
    throw std::runtime_error(m_model.path.string() + ": tensor " + name + " has shape " +
                             shapeText(td->ne) + ", expected " + shapeText(want));
  const int64_t qd = int64_t(s.nHead) * s.headDim, kvd = int64_t(s.nHeadKv) * s.headDim;
  const bool vec = t.rank == 1;
  const size_t rowB = vec ? 4 : td->nbytes / size_t(td->rows());
  auto part = [&](int64_t row0, int64_t rows, const char* tag) {
    // A vector's parts are element ranges (F32), a matrix's are row ranges.
    if (vec) {
      if (td->type != kern::QType::F32)
        throw std::runtime_error(m_model.path.string() + ": " + name + " must be F32");
      return load(*td, 1, rows, size_t(row0) * 4, name + tag);
    }
    return load(*td, rows, td->cols(), rowB * size_t(row0), name + tag);
  };
  LayerWeights* L = l >= 0 ? &m_layers[size_t(l)] : nullptr;
  // The tensor is checked above whether or not this scope binds it.
  auto bound = [&](Role r) { return force || wanted(r, l); };
  switch (t.split) {
    case Split::None: {
      const kern::Weight** dst = slot(t.role, l);
      if (!dst || !bound(t.role)) return;
      *dst = vec ? load(*td, 1, elems, 0, name) : load(*td, td->rows(), td->cols(), 0, name);
      return;
    }
    case Split::QkvRows: {
      const bool bias = t.role == Role::Bqkv;
      if (bound(bias ? Role::Bq : Role::Wq)) (bias ? L->bq : L->wq) = part(0, qd, "[q]");
      if (bound(bias ? Role::Bk : Role::Wk)) (bias ? L->bk : L->wk) = part(qd, kvd, "[k]");
      if (bound(bias ? Role::Bv : Role::Wv)) (bias ? L->bv : L->wv) = part(qd + kvd, kvd, "[v]");
      return;
    }
    case Split::GateUpRows:
      if (!bound(Role::Gate)) return;
      L->gate = part(0, s.nFf, "[gate]");
      L->up = part(s.nFf, s.nFf, "[up]");
      return;
    case Split::PerExpert: {
      if (!bound(Role::GateExps)) return;  // experts: within the stage only
      const int E = s.nExpert;
      if (L->experts.empty()) L->experts.resize(size_t(E));
      const size_t per = td->nbytes / size_t(E);
      for (int e = 0; e < E; ++e) {
        const std::string tag = "[" + std::to_string(e) + "]";
        const kern::Weight* w = t.rank == 3 ? load(*td, td->ne[1], td->ne[0], per * e, name + tag)
                                            : load(*td, 1, td->ne[0], per * e, name + tag);
        ExpertWeights& x = L->experts[size_t(e)];
        switch (t.role) {
          case Role::GateExps:
            x.gate = w;
            break;
          case Role::UpExps:
            x.up = w;
            break;
          case Role::DownExps:
            x.down = w;
            break;
          case Role::GateExpsB:
            x.gateB = w;
            break;
          case Role::UpExpsB:
            x.upB = w;
            break;
          case Role::DownExpsB:
            x.downB = w;
            break;
          default:
            throw std::logic_error("per-expert split of a non-expert role");
        }
      }
      return;
    }
  }
}

const kern::Weight* ModelWeights::load(const TensorData& t, int64_t rows, int64_t cols,
                                       size_t byteOffset, const std::string& name) {
  kern::WeightDesc desc;
  desc.name = name;
  desc.type = t.type;
  desc.rows = rows;
  desc.cols = cols;
  desc.nbytes = kern::rowBytes(t.type, cols) * static_cast<size_t>(rows);
  if (byteOffset + desc.nbytes > t.nbytes)
    throw std::runtime_error(m_model.path.string() + ": tensor " + t.name + " is too small for " +
                             name);
  desc.data = t.data + byteOffset;
  m_owned.push_back(m_backend.loadWeight(desc));
  m_boundBytes += desc.nbytes;
  return m_owned.back().get();
}

void ModelWeights::aliasAllExpertsTo(int e) {
  for (auto& L : m_layers) {
    if (L.experts.empty()) continue;
    if (e < 0 || e >= static_cast<int>(L.experts.size())) throw std::out_of_range("expert index");
    for (auto& x : L.experts) x = L.experts[e];
  }
}

const float* ModelWeights::vec(const kern::Weight* w) const {
  return w ? m_backend.vectorData(*w) : nullptr;
}

}  // namespace ll::rt
