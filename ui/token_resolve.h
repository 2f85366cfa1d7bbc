// A token typed in a panel (its id, or its text) resolved over any vocabulary: the one rule that
// resolveToken (attribution_step.h) applies to a local model and the remote job to a server's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ll::ui {

// piece(id) gives a token's text, encode(text) its ids without BOS; throws std::invalid_argument
// naming the problem (an id outside the vocabulary, a text that is not one token).
int32_t resolveTokenIn(const std::string& text, int32_t nVocab,
                       const std::function<std::string(int32_t)>& piece,
                       const std::function<std::vector<int32_t>(const std::string&)>& encode);

}  // namespace ll::ui
