// The inverse of expertContrastJson (expert_contrast.h): the frequencies and picks of a contrast a
// server ran, for the client that asked (expert_contrast_parse.cpp).
#pragma once

#include <string>

#include "runtime/analysis/expert_contrast.h"
#include "runtime/model/model_spec.h"

namespace ll::rt::ana {

// The result of the contrast of `sent` (its request, which the document echoes in part). Untrusted:
// every field is checked against the model and the request, std::invalid_argument names it.
ExpertContrastResult parseExpertContrastJson(const std::string& document,
                                             const ExpertContrastRequest& sent,
                                             const ModelSpec& spec);

}  // namespace ll::rt::ana
