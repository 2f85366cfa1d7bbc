// The interventions a run used, named in one line for figure captions and export footers, so a
// figure of an edited run never passes for the plain model's.
#pragma once

#include <optional>
#include <string>

#include "runtime/api/request.h"

namespace ll::rt {

// "embed", "resid", "attn", "mlp", "head" (error messages, captions).
std::string patchSiteName(PatchSite site);

// "" when nothing is active; otherwise e.g. "interventions: knockout layers 0-1 (3 query -> 2 key
// tokens); router edits x4 (ban 2, bias 2); steering layer 5 (alpha 4)". Covers knockout and
// the extra masks, head eviction, router edits, steering, layer skips, patches and a token subset.
std::string describeInterventions(const Interventions& iv,
                                  const std::optional<TokenSubset>& subset = std::nullopt);

}  // namespace ll::rt
