// Latent-language plot (ALGORITHMS.md §16): per layer, the logit-lens probability mass that one
// position puts on two answer words, e.g. a French answer and its English equivalent.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {
class Engine;
class Tokenizer;
}  // namespace ll::rt

namespace ll::rt::ana {

class LensProjector;

struct LatentLanguageRequest {
  std::string wordA;  // w_A, e.g. the answer in the prompt's language
  std::string wordB;  // w_B, e.g. its English equivalent
  int position = -1;  // sequence index whose next-token distribution is read (-1: the last)

  static constexpr const char* kHelpWords =
      "The two answer words. Each word counts the first token of its tokenisation with and "
      "without a leading space (the same token once; a lone space token is passed over).";
  static constexpr const char* kHelpPosition =
      "Sequence index whose next-token prediction is read; -1 (default) is the last token.";
};

// Rows as in the logit lens: 0 = token embeddings, l + 1 = residual after layer l.
struct LatentLanguageResult {
  int nLayer = 0;
  int position = 0;              // the resolved sequence index
  std::vector<int32_t> tokensA;  // first tokens of w_A's tokenisations, deduplicated
  std::vector<int32_t> tokensB;
  std::vector<double> a;  // [nLayer + 1] P_l(w_A), final norm applied
  std::vector<double> b;  // [nLayer + 1] P_l(w_B)
};

// First token of `word` and of " " + `word` (no BOS), in that order, without repeats; a leading
// token that is only whitespace (the lone space an SPM tokenizer makes of a doubled prefix
// space) is passed over. Throws std::invalid_argument for an empty word or one the tokenizer
// turns into no token but whitespace.
std::vector<int32_t> wordFirstTokens(const Tokenizer& tok, const std::string& word);

// Throws std::invalid_argument on a trace without capture, one from another model, an empty
// word or a position out of range.
LatentLanguageResult latentLanguage(LensProjector& projector, const Trace& tr, const Tokenizer& tok,
                                    const LatentLanguageRequest& req);
LatentLanguageResult latentLanguage(Engine& engine, const Trace& tr, const Tokenizer& tok,
                                    const LatentLanguageRequest& req);

// The document `layerlens-cli latent` writes and File > Export data saves: {"layers": L,
// "a": [L + 1], "b": [L + 1], "tokens_a", "tokens_b", "position"}.
nlohmann::json latentLanguageJson(const LatentLanguageResult& r);
// Its inverse (latent_language_parse.cpp), for a document from a server: layers must be nLayer,
// a and b hold nLayer + 1 values, the words' tokens (one or two each) lie in the vocabulary and
// the position in the prompt. Throws std::invalid_argument naming the field.
LatentLanguageResult parseLatentLanguageJson(const nlohmann::json& j, int nLayer, int nTokens,
                                             int nVocab);

}  // namespace ll::rt::ana
