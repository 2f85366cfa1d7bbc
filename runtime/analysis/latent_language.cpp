// Latent-language plot (ALGORITHMS.md §16): the L + 1 lens rows of one position in one LM-head
// product, then the softmax mass on each word's first tokens.
#include "runtime/analysis/latent_language.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/analysis/lens.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {

namespace {

bool isBlank(const std::string& piece) {
  return std::all_of(piece.begin(), piece.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

}  // namespace

std::vector<int32_t> wordFirstTokens(const Tokenizer& tok, const std::string& word) {
  if (word.empty()) throw std::invalid_argument("latent language: a word is empty");
  std::vector<int32_t> out;
  for (const std::string& text : {word, " " + word}) {
    const Encoding enc = tok.encode(text, 0);
    // A tokenizer that prepends its own space (SPM add_space_prefix) spells " park" as a lone
    // space token then " park": the lone space says nothing about the word, so the first token
    // is the first one carrying a non-space byte.
    size_t i = 0;
    while (i < enc.ids.size() && isBlank(enc.pieces[i])) ++i;
    if (i == enc.ids.size())
      throw std::invalid_argument("latent language: the word '" + word + "' has no token");
    if (std::find(out.begin(), out.end(), enc.ids[i]) == out.end()) out.push_back(enc.ids[i]);
  }
  return out;
}

namespace {

// Probability mass of `ids` under softmax(logits), in double so small masses keep their digits.
double softmaxMass(const float* logits, int V, const std::vector<int32_t>& ids) {
  const double mx = *std::max_element(logits, logits + V);
  double sum = 0;
  for (int v = 0; v < V; ++v) sum += std::exp(double(logits[v]) - mx);
  double mass = 0;
  for (int32_t id : ids) mass += std::exp(double(logits[id]) - mx);
  return mass / sum;
}

}  // namespace

LatentLanguageResult latentLanguage(LensProjector& proj, const Trace& tr, const Tokenizer& tok,
                                    const LatentLanguageRequest& req) {
  if (!tr.captured)
    throw std::invalid_argument("latent language: the trace was run without capture");
  const int T = tr.nTokens, L = tr.nLayer, d = tr.nEmbd, V = tr.nVocab;
  if (proj.nEmbd() != d || proj.nVocab() != V)
    throw std::invalid_argument("latent language: the trace does not belong to this model");
  LatentLanguageResult r;
  r.nLayer = L;
  r.position = req.position < 0 ? T - 1 : req.position;
  if (req.position < -1 || r.position < 0 || r.position >= T)
    throw std::invalid_argument("latent language: position " + std::to_string(req.position) +
                                " is out of range (the prompt has " + std::to_string(T) +
                                " tokens)");
  r.tokensA = wordFirstTokens(tok, req.wordA);
  r.tokensB = wordFirstTokens(tok, req.wordB);
  for (const auto* ids : {&r.tokensA, &r.tokensB})
    for (int32_t id : *ids)
      if (id < 0 || id >= V)
        throw std::invalid_argument("latent language: a word's token is outside the LM head");
  const int t = r.position;
  std::vector<float> rows(size_t(L + 1) * d), logits(size_t(L + 1) * V);
  std::copy_n(tr.embd.data() + size_t(t) * d, d, rows.data());
  for (int l = 0; l < L; ++l)
    std::copy_n(tr.layers[l].resid.data() + size_t(t) * d, d, rows.data() + size_t(l + 1) * d);
  proj.project(rows.data(), L + 1, true, logits.data());
  for (int row = 0; row <= L; ++row) {
    const float* lg = logits.data() + size_t(row) * V;
    r.a.push_back(softmaxMass(lg, V, r.tokensA));
    r.b.push_back(softmaxMass(lg, V, r.tokensB));
  }
  return r;
}

LatentLanguageResult latentLanguage(Engine& engine, const Trace& tr, const Tokenizer& tok,
                                    const LatentLanguageRequest& req) {
  LensProjector proj(engine);
  return latentLanguage(proj, tr, tok, req);
}

nlohmann::json latentLanguageJson(const LatentLanguageResult& r) {
  return {{"layers", r.nLayer},
          {"a", r.a},
          {"b", r.b},
          {"tokens_a", r.tokensA},
          {"tokens_b", r.tokensB},
          {"position", r.position}};
}

}  // namespace ll::rt::ana
