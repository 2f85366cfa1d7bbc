#include "runtime/engine/model_weights.h"

#include <stdexcept>

namespace ll::rt {
namespace {

std::string blk(int l, const std::string& what) {
  return "blk." + std::to_string(l) + "." + what;
}

}  // namespace

ModelWeights::ModelWeights(const Model& model, kern::Backend& backend)
    : m_model(model), m_backend(backend) {
  const ModelSpec& s = model.spec;
  if (s.nLayer <= 0 || s.nEmbd <= 0 || s.nHead <= 0 || s.nHeadKv <= 0 || s.headDim <= 0 ||
      s.nVocab <= 0 || s.nHead % s.nHeadKv != 0)
    throw std::runtime_error(model.path.string() + ": inconsistent hyperparameters");
  const int64_t d = s.nEmbd, qd = int64_t(s.nHead) * s.headDim,
                kvd = int64_t(s.nHeadKv) * s.headDim;

  tokenEmbd = required("token_embd.weight", s.nVocab, d);
  if (s.learnedPos) posEmbd = required("position_embd.weight", -1, d);
  outputNorm = required("output_norm.weight", 1, d);
  outputNormB = optional("output_norm.bias", 1, d);
  output = optional("output.weight", s.nVocab, d);
  if (!output) output = tokenEmbd;

  layers.resize(s.nLayer);
  for (int l = 0; l < s.nLayer; ++l) {
    LayerWeights& L = layers[l];
    L.attnNorm = required(blk(l, "attn_norm.weight"), 1, d);
    L.attnNormB = optional(blk(l, "attn_norm.bias"), 1, d);
    if (const TensorData* qkv = model.weights.find(blk(l, "attn_qkv.weight"))) {
      // Fused Q|K|V: rows are contiguous, so each part is a row range of the tensor.
      if (qkv->cols() != d || qkv->rows() != qd + 2 * kvd)
        throw std::runtime_error(model.path.string() + ": " + qkv->name +
                                 " has an unexpected shape");
      const size_t rowBytes = qkv->nbytes / static_cast<size_t>(qkv->rows());
      L.wq = load(*qkv, qd, d, 0, blk(l, "attn_qkv.weight[q]"));
      L.wk = load(*qkv, kvd, d, rowBytes * qd, blk(l, "attn_qkv.weight[k]"));
      L.wv = load(*qkv, kvd, d, rowBytes * (qd + kvd), blk(l, "attn_qkv.weight[v]"));
      if (const TensorData* b = model.weights.find(blk(l, "attn_qkv.bias"))) {
        if (b->cols() != qd + 2 * kvd || b->type != kern::QType::F32)
          throw std::runtime_error(model.path.string() + ": " + b->name +
                                   " has an unexpected shape");
        L.bq = load(*b, 1, qd, 0, blk(l, "attn_qkv.bias[q]"));
        L.bk = load(*b, 1, kvd, 4 * qd, blk(l, "attn_qkv.bias[k]"));
        L.bv = load(*b, 1, kvd, 4 * (qd + kvd), blk(l, "attn_qkv.bias[v]"));
      }
    } else {
      L.wq = required(blk(l, "attn_q.weight"), qd, d);
      L.wk = required(blk(l, "attn_k.weight"), kvd, d);
      L.wv = required(blk(l, "attn_v.weight"), kvd, d);
      L.bq = optional(blk(l, "attn_q.bias"), 1, qd);
      L.bk = optional(blk(l, "attn_k.bias"), 1, kvd);
      L.bv = optional(blk(l, "attn_v.bias"), 1, kvd);
    }
    L.wo = required(blk(l, "attn_output.weight"), d, qd);
    L.bo = optional(blk(l, "attn_output.bias"), 1, d);
    if (s.qkNorm) {
      L.qNorm = required(blk(l, "attn_q_norm.weight"), 1, qd);
      L.kNorm = required(blk(l, "attn_k_norm.weight"), 1, kvd);
    }
    L.ffnNorm = required(blk(l, "ffn_norm.weight"), 1, d);
    L.ffnNormB = optional(blk(l, "ffn_norm.bias"), 1, d);

    if (s.nExpert > 0 && model.weights.find(blk(l, "ffn_gate_inp.weight"))) {
      L.router = required(blk(l, "ffn_gate_inp.weight"), s.nExpert, d);
      const int64_t ff = s.nFfExpert > 0 ? s.nFfExpert : s.nFf;
      L.experts.resize(s.nExpert);
      const TensorData* g3 = model.weights.find(blk(l, "ffn_gate_exps.weight"));
      if (g3) {
        const TensorData& u3 = model.weights.get(blk(l, "ffn_up_exps.weight"));
        const TensorData& d3 = model.weights.get(blk(l, "ffn_down_exps.weight"));
        auto check = [&](const TensorData& t, int64_t c, int64_t r) {
          if (t.ne.size() != 3 || t.ne[0] != c || t.ne[1] != r || t.ne[2] != s.nExpert)
            throw std::runtime_error(model.path.string() + ": " + t.name +
                                     " has an unexpected shape");
        };
        check(*g3, d, ff);
        check(u3, d, ff);
        check(d3, ff, d);
        for (int e = 0; e < s.nExpert; ++e) {
          const std::string tag = "[" + std::to_string(e) + "]";
          L.experts[e].gate = load(*g3, ff, d, g3->nbytes / s.nExpert * e, g3->name + tag);
          L.experts[e].up = load(u3, ff, d, u3.nbytes / s.nExpert * e, u3.name + tag);
          L.experts[e].down = load(d3, d, ff, d3.nbytes / s.nExpert * e, d3.name + tag);
        }
      } else {  // older files: one tensor per expert
        for (int e = 0; e < s.nExpert; ++e) {
          const std::string n = std::to_string(e);
          L.experts[e].gate = required(blk(l, "ffn_gate." + n + ".weight"), ff, d);
          L.experts[e].up = required(blk(l, "ffn_up." + n + ".weight"), ff, d);
          L.experts[e].down = required(blk(l, "ffn_down." + n + ".weight"), d, ff);
        }
      }
      if (model.weights.find(blk(l, "ffn_gate_inp_shexp.weight"))) {
        const int64_t sf = s.nFfShexp > 0 ? s.nFfShexp : -1;
        L.sharedGate = required(blk(l, "ffn_gate_inp_shexp.weight"), 1, d);
        L.shared.gate = required(blk(l, "ffn_gate_shexp.weight"), sf, d);
        // Gate and up must agree: the FFN scratch is sized by the up rows (preparePass).
        L.shared.up = required(blk(l, "ffn_up_shexp.weight"), L.shared.gate->rows, d);
        L.shared.down = required(blk(l, "ffn_down_shexp.weight"), d, L.shared.gate->rows);
      }
    } else {
      const int64_t ff = s.nFf > 0 ? s.nFf : -1;
      L.up = required(blk(l, "ffn_up.weight"), ff, d);
      L.down = required(blk(l, "ffn_down.weight"), d, L.up->rows);
      L.upB = optional(blk(l, "ffn_up.bias"), 1, L.up->rows);
      L.downB = optional(blk(l, "ffn_down.bias"), 1, d);
      if (s.act == Activation::SwiGlu) L.gate = required(blk(l, "ffn_gate.weight"), L.up->rows, d);
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
  return m_owned.back().get();
}

const kern::Weight* ModelWeights::optional(const std::string& name, int64_t rows, int64_t cols) {
  const TensorData* t = m_model.weights.find(name);
  if (!t) return nullptr;
  const int64_t tr = t->rows(), tc = t->cols();
  const bool isVector = rows == 1;
  // Vectors: any shape with the right element count (GGUF stores them 1-D).
  if (isVector ? (tr * tc != cols) : (tc != cols || (rows >= 0 && tr != rows)))
    throw std::runtime_error(m_model.path.string() + ": tensor " + name + " has shape [" +
                             std::to_string(tc) + ", " + std::to_string(tr) + "], expected [" +
                             std::to_string(cols) + ", " + std::to_string(rows) + "]");
  if (isVector) return load(*t, 1, cols, 0, name);
  return load(*t, tr, tc, 0, name);
}

const kern::Weight* ModelWeights::required(const std::string& name, int64_t rows, int64_t cols) {
  const kern::Weight* w = optional(name, rows, cols);
  if (!w) throw std::runtime_error(m_model.path.string() + ": missing tensor " + name);
  return w;
}

void ModelWeights::aliasAllExpertsTo(int e) {
  for (auto& L : layers) {
    if (!L.isMoe()) continue;
    if (e < 0 || e >= static_cast<int>(L.experts.size())) throw std::out_of_range("expert index");
    for (auto& x : L.experts) x = L.experts[e];
  }
}

const float* ModelWeights::vec(const kern::Weight* w) const {
  return w ? m_backend.vectorData(*w) : nullptr;
}

}  // namespace ll::rt
