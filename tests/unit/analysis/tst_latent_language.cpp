// Latent-language plot (§16) on stories260K against a plain computation: RMSNorm with
// output_norm.weight and the LM head read from the model file applied by loops to the trace's
// hidden rows, softmax in double, mass summed over the words' first tokens.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ana_common.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

// P(ids) under the lens of one hidden row, by loops.
double plainMass(const float* row, int d, const std::vector<float>& normW,
                 const std::vector<float>& W, int V, double eps, const std::vector<int32_t>& ids) {
  double ss = 0;
  for (int i = 0; i < d; ++i) ss += double(row[i]) * row[i];
  const double inv = 1.0 / std::sqrt(ss / d + eps);
  std::vector<double> x(d), z(V);
  for (int i = 0; i < d; ++i) x[i] = row[i] * inv * normW[i];
  double mx = -1e300;
  for (int v = 0; v < V; ++v) {
    z[v] = 0;
    for (int i = 0; i < d; ++i) z[v] += W[size_t(v) * d + i] * x[i];
    mx = std::max(mx, z[v]);
  }
  double sum = 0, mass = 0;
  for (int v = 0; v < V; ++v) sum += std::exp(z[v] - mx);
  for (int32_t id : ids) mass += std::exp(z[id] - mx);
  return mass / sum;
}

}  // namespace

LL_TEST(latentLanguageAgainstPlainLoops) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const Model& m = s->model();
  const Tokenizer& tok = *m.tokenizer;
  const int d = m.spec.nEmbd, V = m.spec.nVocab, L = m.spec.nLayer;
  auto normW = anatest::tensorF32(m, "output_norm.weight");
  auto W = anatest::tensorF32(
      m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
  auto tr = s->run();
  const int T = tr->nTokens;
  for (int position : {-1, 1}) {
    LatentLanguageRequest req;
    req.wordA = "Lily";
    req.wordB = "They";
    req.position = position;
    const LatentLanguageResult r = latentLanguage(s->engine(), *tr, tok, req);
    const int t = position < 0 ? T - 1 : position;
    QCOMPARE(r.position, t);
    QCOMPARE(r.nLayer, L);
    QCOMPARE(int(r.a.size()), L + 1);
    QCOMPARE(int(r.b.size()), L + 1);
    // Each word's tokens are the first pieces of its two spellings, each once, and the spelled
    // text starts that word.
    for (const auto& [word, ids] :
         {std::pair{req.wordA, r.tokensA}, std::pair{req.wordB, r.tokensB}}) {
      QVERIFY(!ids.empty() && ids.size() <= 2);
      if (ids.size() == 2) QVERIFY(ids[0] != ids[1]);
      for (int32_t id : ids) {
        std::string p = tok.piece(id);
        while (!p.empty() && p.front() == ' ') p.erase(p.begin());
        QVERIFY2(!p.empty() && word.rfind(p, 0) == 0, ("piece '" + p + "' of " + word).c_str());
      }
    }
    double maxDiff = 0;
    for (int row = 0; row <= L; ++row) {
      const float* h = row == 0 ? tr->embd.data() + size_t(t) * d
                                : tr->layers[row - 1].resid.data() + size_t(t) * d;
      const double ea = plainMass(h, d, normW, W, V, m.spec.normEps, r.tokensA);
      const double eb = plainMass(h, d, normW, W, V, m.spec.normEps, r.tokensB);
      maxDiff = std::max({maxDiff, std::fabs(r.a[row] - ea), std::fabs(r.b[row] - eb)});
      QVERIFY(r.a[row] >= 0 && r.a[row] <= 1 && r.b[row] >= 0 && r.b[row] <= 1);
    }
    QVERIFY2(maxDiff < 1e-4, std::to_string(maxDiff).c_str());
    // Not a trivially flat series: the last layer puts real mass somewhere the first does not.
    QVERIFY(std::fabs(r.a[L] - r.a[0]) + std::fabs(r.b[L] - r.b[0]) > 1e-3);
  }
}

// The words' spaced tokens as the reference tokenizer (llama.cpp) cut the prompt (" Lily" 317,
// " play" 337 in its tokens.json) are among the word's tokens; no lone space token is.
LL_TEST(wordTokensMatchTheReferencePrompt) {
  LL_REQUIRE_SHARED();
  const Tokenizer& tok = *anatest::model("stories260K.gguf")->tokenizer;
  auto j = nlohmann::json::parse(
      lltest::readText(anatest::refDir("stories260K", "park") / "tokens.json"));
  const auto pieces = j["pieces"].get<std::vector<std::string>>();
  const auto ids = j["ids"].get<std::vector<int32_t>>();
  for (const std::string word : {"Lily", "play"}) {
    int32_t spaced = -1;
    for (size_t i = 0; i < pieces.size(); ++i)
      if (pieces[i] == " " + word) spaced = ids[i];
    QVERIFY(spaced >= 0);
    const std::vector<int32_t> got = wordFirstTokens(tok, word);
    QVERIFY(std::find(got.begin(), got.end(), spaced) != got.end());
    for (int32_t id : got) QVERIFY(tok.piece(id).find_first_not_of(' ') != std::string::npos);
  }
}

LL_TEST(latentLanguageRejectsBadInput) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const Tokenizer& tok = *s->model().tokenizer;
  auto tr = s->run();
  auto rejects = [&](const LatentLanguageRequest& r) {
    try {
      latentLanguage(s->engine(), *tr, tok, r);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  LatentLanguageRequest req;
  req.wordA = "park";
  req.wordB = "";
  QVERIFY(rejects(req));
  req.wordB = "the";
  req.position = tr->nTokens;
  QVERIFY(rejects(req));
  req.position = -2;
  QVERIFY(rejects(req));
  req.position = -1;
  req.wordA = "  ";  // only whitespace: no token of the word
  QVERIFY(rejects(req));
  req.wordA = "park";
  QVERIFY(!rejects(req));
}

LL_TEST_MAIN("tst_latent_language")
