// What PromptDistill's continuation runs under (defined with answerDistilled in
// selection_runs.cpp), for a client that decodes it on a server.
#pragma once

#include <vector>

#include "runtime/api/request.h"

namespace ll::rt::ana {

// base with the masks of distillInterventions (selection_runs.h) added: the interventions of
// answerDistilled's continuation of a T-token prompt.
Interventions distilledInterventions(const Interventions& base, int T,
                                     const std::vector<int>& stageLayers,
                                     const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                                     int nLayer);

}  // namespace ll::rt::ana
