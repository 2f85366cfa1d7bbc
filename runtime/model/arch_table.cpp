// The architecture table and the ModelSpec helpers built on it.
#include "runtime/model/arch_table.h"

#include <stdexcept>

namespace ll::rt {

namespace {
using N = NormKind;
using A = Activation;
using E = ExpertNormRule;

// name      kind          norm          act          qkvB   fused  qkN    lpos   rope   neox   linB
// moe    moeOnly shexp  expertNorm
const std::vector<ArchInfo> kArchs = {
    {"llama", Arch::Llama, N::RmsNorm, A::SwiGlu, false, false, false, false, true, false, false,
     true, true, false, E::Always},
    {"qwen2", Arch::Qwen2, N::RmsNorm, A::SwiGlu, true, false, false, false, true, true, false,
     false, false, false, E::Never},
    {"gpt2", Arch::Gpt2, N::LayerNorm, A::GeluTanh, false, true, false, true, false, false, true,
     false, false, false, E::Never},
    {"qwen2moe", Arch::Qwen2Moe, N::RmsNorm, A::SwiGlu, true, false, false, false, true, true,
     false, true, true, true, E::FromKey},
    {"olmoe", Arch::Olmoe, N::RmsNorm, A::SwiGlu, false, false, true, false, true, true, false,
     true, true, false, E::FromKey},
};
}  // namespace

const std::vector<ArchInfo>& archTable() {
  return kArchs;
}

const ArchInfo* findArch(std::string_view name) {
  for (const auto& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

const ArchInfo& archInfo(Arch kind) {
  for (const auto& a : kArchs)
    if (a.kind == kind) return a;
  throw std::logic_error("archInfo: architecture missing from the table");
}

std::string supportedArchitecturesText() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

void applyArchLayout(const ArchInfo& a, ModelSpec& spec) {
  spec.arch = std::string(a.name);
  spec.archKind = a.kind;
  spec.norm = a.norm;
  spec.act = a.act;
  spec.qkvBias = a.qkvBias || a.fusedQkv;
  spec.qkNorm = a.qkNorm;
  spec.learnedPos = a.learnedPos;
  spec.hasRope = a.hasRope;
  spec.rope.neox = a.ropeNeox;
}

}  // namespace ll::rt
