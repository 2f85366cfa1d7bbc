// Lookups over the architecture registry and the tensor table's name/shape/requirement rules.
#include "runtime/model/arch.h"

#include <cmath>
#include <stdexcept>

namespace ll::rt {

const ArchDesc* findArch(std::string_view name) {
  for (const ArchDesc* a : architectures())
    if (a->name == name) return a;
  return nullptr;
}

const ArchDesc* findArchByHfClass(std::string_view cls) {
  for (const ArchDesc* a : architectures())
    for (auto c : a->hfClasses)
      if (c == cls) return a;
  return nullptr;
}

const ArchDesc& archOf(const ModelSpec& spec) {
  if (const ArchDesc* a = findArch(spec.arch)) return *a;
  throw std::logic_error("architecture '" + spec.arch + "' is not in the registry");
}

std::string supportedArchitecturesText() {
  std::string s;
  for (const ArchDesc* a : architectures()) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

const std::vector<std::string>& supportedArchitectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const ArchDesc* a : architectures()) v.emplace_back(a->name);
    return v;
  }();
  return names;
}

void applyArchLayout(const ArchDesc& a, ModelSpec& spec) {
  spec.arch = std::string(a.name);
  spec.norm = a.norm;
  spec.act = a.act;
  spec.qkvBias = a.qkvBias;
  spec.qkNorm = a.qkNorm;
  spec.learnedPos = a.learnedPos;
  spec.hasRope = a.hasRope;
  spec.rope.neox = a.ropeNeox;
  spec.postNorms = a.postNorms;
  spec.attnSinks = a.attnSinks;
}

void deriveLayout(const ArchDesc& a, ModelSpec& s) {
  if (a.embdScale) s.embdScale = std::sqrt(float(s.nEmbd));
  if (a.windowLayers == WindowLayers::None) return;
  if (s.nLayer < 1 || s.nLayer > 4096) return;  // validateSpec reports it
  if (s.windowed.size() != size_t(s.nLayer)) {
    s.windowed.assign(size_t(s.nLayer), 0);
    for (int l = 0; l < s.nLayer; ++l) {
      bool w = false;
      switch (a.windowLayers) {
        case WindowLayers::None:
          break;
        case WindowLayers::All:
          w = true;
          break;
        case WindowLayers::Even:
          w = l % 2 == 0;
          break;
        case WindowLayers::GemmaPattern:
          w = (l + 1) % 6 != 0;
          break;
      }
      s.windowed[size_t(l)] = w ? 1 : 0;
    }
  }
  if (a.localRopeBase > 0) {
    const float base = s.localRope ? s.ropeLocal.base : a.localRopeBase;
    s.localRope = true;
    s.ropeLocal = kern::RopeParams{};
    s.ropeLocal.nRot = s.rope.nRot;
    s.ropeLocal.neox = s.rope.neox;
    s.ropeLocal.base = base;
  }
}

const TensorDesc* findRole(const ArchDesc& a, Role role) {
  for (const auto& t : a.tensors)
    if (t.role == role) return &t;
  return nullptr;
}

std::string tensorName(const TensorDesc& t, int layer) {
  std::string n = t.gguf;
  if (auto p = n.find("{L}"); p != std::string::npos) n.replace(p, 3, std::to_string(layer));
  return n;
}

bool layerScoped(const TensorDesc& t) {
  return std::string_view(t.gguf).find("{L}") != std::string_view::npos;
}

namespace {
int64_t dimValue(Dim d, const ModelSpec& s) {
  const int64_t q = int64_t(s.nHead) * s.headDim, kv = int64_t(s.nHeadKv) * s.headDim;
  switch (d) {
    case Dim::One:
      return 1;
    case Dim::Embd:
      return s.nEmbd;
    case Dim::Vocab:
      return s.nVocab;
    case Dim::Ctx:
      return s.nCtx;
    case Dim::Q:
      return q;
    case Dim::Kv:
      return kv;
    case Dim::Qkv:
      return q + 2 * kv;
    case Dim::Ff:
      return s.nFf;
    case Dim::Ff2:
      return 2 * int64_t(s.nFf);
    case Dim::FfExp:
      return s.nFfExpert;
    case Dim::FfShexp:
      return s.nFfShexp;
    case Dim::Expert:
      return s.nExpert;
    case Dim::Head:
      return s.nHead;
    case Dim::HeadDim:
      return s.headDim;
    case Dim::RopePairs:
      return s.rope.nRot / 2;
  }
  return 0;
}
}  // namespace

std::vector<int64_t> tensorShape(const TensorDesc& t, const ModelSpec& s) {
  std::vector<int64_t> ne;
  for (int i = 0; i < t.rank; ++i) ne.push_back(dimValue(t.ne[i], s));
  return ne;
}

bool tensorRequired(const TensorDesc& t, const ModelSpec& s) {
  switch (t.when) {
    case When::Always:
      return true;
    case When::Optional:
      return false;
    case When::Dense:
      return s.nExpert == 0;
    case When::Moe:
      return s.nExpert > 0;
    case When::SharedExpert:
      return false;  // per layer: all four or none (ModelWeights checks)
    case When::Untied:
      return !s.tiedOutput;
    case When::QkvBias:
      return s.qkvBias;
    case When::LearnedPos:
      return s.learnedPos;
  }
  return false;
}

}  // namespace ll::rt
