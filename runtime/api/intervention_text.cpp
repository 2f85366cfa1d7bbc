// One-line descriptions of a run's interventions (captions, export footers).
#include "runtime/api/intervention_text.h"

#include <cstdio>
#include <map>

namespace ll::rt {

namespace {

std::string num(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", double(v));
  return buf;
}

std::string layers(int begin, int end) {
  if (end - 1 <= begin) return "layer " + std::to_string(begin);
  return "layers " + std::to_string(begin) + "-" + std::to_string(end - 1);
}

std::string knockoutText(const Knockout& k) {
  return "knockout " + layers(k.layerBegin, k.layerEnd) + " (" + std::to_string(k.from.size()) +
         " query -> " + std::to_string(k.to.size()) + " key tokens)";
}

}  // namespace

std::string patchSiteName(PatchSite site) {
  switch (site) {
    case PatchSite::Embedding:
      return "embed";
    case PatchSite::Attention:
      return "attn";
    case PatchSite::Mlp:
      return "mlp";
    case PatchSite::Head:
      return "head";
    case PatchSite::Resid:
      break;
  }
  return "resid";
}

std::string describeInterventions(const Interventions& iv,
                                  const std::optional<TokenSubset>& subset) {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  if (iv.knockout) add(knockoutText(*iv.knockout));
  if (!iv.masks.empty()) add("attention masks x" + std::to_string(iv.masks.size()));
  if (iv.eviction)
    add("head eviction (" + std::to_string(iv.eviction->length) + " tokens from #" +
        std::to_string(iv.eviction->fromIndex) + ")");
  if (!iv.router.empty()) {
    std::map<std::string, int> kinds;
    for (const RouterEdit& r : iv.router)
      ++kinds[r.kind == RouterEditKind::Ban     ? "ban"
              : r.kind == RouterEditKind::Force ? "force"
                                                : "bias"];
    std::string k;
    for (const auto& [name, n] : kinds)
      k += (k.empty() ? "" : ", ") + name + " " + std::to_string(n);
    add("router edits x" + std::to_string(iv.router.size()) + " (" + k + ")");
  }
  for (const Steering& s : iv.steering)
    add("steering layer " + std::to_string(s.layer) + " (alpha " + num(s.alpha) + ")");
  for (const LayerSkip& k : iv.skips)
    add("layer " + std::to_string(k.layer) + " skipped" +
        (k.part == SkipPart::Attention ? " (attention)"
         : k.part == SkipPart::Mlp     ? " (MLP)"
                                       : ""));
  if (!iv.patches.empty()) {
    std::map<std::string, int> sites;
    for (const Patch& pt : iv.patches) ++sites[patchSiteName(pt.site)];
    std::string k;
    for (const auto& [name, n] : sites)
      k += (k.empty() ? "" : ", ") + name + " " + std::to_string(n);
    add("patches x" + std::to_string(iv.patches.size()) + " (" + k + ")");
  }
  if (subset)
    add("token subset (" + std::to_string(subset->indices.size()) + " tokens" +
        (subset->keepPositions ? "" : ", re-indexed") + ")");
  return out.empty() ? out : "interventions: " + out;
}

}  // namespace ll::rt
