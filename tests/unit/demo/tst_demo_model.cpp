// The built-in demo model's constructed mechanisms, measured through the real loader, tokenizer
// and engine: previous-token head, induction head, class-routing MoE layer, and the continuation
// of repeated text.
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/demo/demo_model.h"

namespace fs = std::filesystem;
using namespace ll::rt;

namespace {

fs::path demoPath() {
  static const fs::path p = [] {
    const fs::path dir = fs::temp_directory_path() / ("ll_demo_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const fs::path f = dir / "demo.gguf";
    demo::writeDemoModel(f);
    return f;
  }();
  return p;
}

Session& session() {
  static Session s;
  if (!s.loaded()) s.load(demoPath(), parseBackend("cpu", 1));
  return s;
}

// A random sequence of distinct characters (letters and digits), length n.
std::string randomSequence(int n, uint32_t seed) {
  std::string pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::mt19937 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  return pool.substr(0, size_t(n));
}

}  // namespace

LL_TEST(loadsAsLlamaWithExperts) {
  const Model& m = session().model();
  QCOMPARE(m.spec.arch, std::string("llama"));
  QCOMPARE(m.spec.nLayer, 2);
  QCOMPARE(m.spec.nExpert, demo::kNumExperts);
  QCOMPARE(m.spec.nVocab, demo::kFirstCharToken + int(demo::kDemoChars.size()));
}

LL_TEST(anyTextTokenizesAndRoundTrips) {
  Session& s = session();
  const std::string text = "Hello, world! 42 \xc3\xa9t\xc3\xa9 \xe2\x82\xac\n";
  s.setPrompt(text);
  auto tr = s.run();
  std::string joined;
  for (size_t i = 1; i < tr->pieces.size(); ++i) joined += tr->pieces[i];
  // SPM adds the dummy-prefix space; byte-fallback tokens cover the non-ASCII characters.
  QCOMPARE(joined, " " + text);
}

LL_TEST(previousTokenHeadAttendsToIMinus1) {
  Session& s = session();
  for (const std::string& text :
       {std::string("The quick brown fox jumps over the lazy dog, 123 times."),
        randomSequence(40, 7) + randomSequence(40, 7)}) {
    s.setPrompt(text);
    auto tr = s.run();
    const int T = tr->nTokens;
    QVERIFY(T > 40);
    const auto map = s.attentionMap(*tr, demo::kPrevTokenLayer, demo::kPrevTokenHead);
    float worst = 1.0f;
    for (int i = 1; i < T; ++i) worst = std::min(worst, map[size_t(i) * T + i - 1]);
    std::printf("previous-token head: min attention on i-1 = %.4f\n", worst);
    QVERIFY2(worst > 0.9f, "previous-token attention min " + std::to_string(worst));
    const auto self = s.attentionMap(*tr, demo::kCurrentTokenLayer, demo::kCurrentTokenHead);
    for (int i = 0; i < T; ++i) QVERIFY(self[size_t(i) * T + i] > 0.9f);
  }
}

LL_TEST(inductionHeadFollowsTheRepeatStripe) {
  Session& s = session();
  for (uint32_t seed : {1u, 2u, 3u}) {
    const int n = 30;
    const std::string seq = randomSequence(n, seed);
    s.setPrompt(seq + seq);
    auto tr = s.run();
    const int T = tr->nTokens;
    // Tokens: <s>, "▁", seq (n), seq (n).
    QCOMPARE(T, 2 + 2 * n);
    const auto map = s.attentionMap(*tr, demo::kInductionLayer, demo::kInductionHead);
    float worst = 1.0f, sum = 0.0f;
    for (int k = 0; k < n; ++k) {
      const int i = 2 + n + k;       // second occurrence of seq[k]
      const int target = 2 + k + 1;  // the token that followed its first occurrence
      QCOMPARE(tr->ids[size_t(i)], tr->ids[size_t(2 + k)]);
      worst = std::min(worst, map[size_t(i) * T + target]);
      sum += map[size_t(i) * T + target];
    }
    std::printf("induction head (seed %u): min %.4f, mean %.4f on the stripe\n", seed, worst,
                sum / n);
    QVERIFY2(worst > 0.9f, "induction stripe min " + std::to_string(worst));
    // First-half queries have no earlier match: they rest on <s>.
    for (int i = 3; i < 2 + n; ++i) QVERIFY(map[size_t(i) * T + 0] > 0.9f);
    // The model continues the repetition: argmax of the logits at i is the token at i + 1.
    int right = 0;
    for (int i = 2 + n; i + 1 < T; ++i) {
      const float* row = tr->logitsRow(i);
      const int best = int(std::max_element(row, row + tr->nVocab) - row);
      right += best == tr->ids[size_t(i + 1)];
    }
    QVERIFY2(right == n - 1, "continued " + std::to_string(right) + " of " + std::to_string(n - 1));
  }
}

LL_TEST(sinkHeadRestsOnBos) {
  Session& s = session();
  s.setPrompt("Attention sinks are real.");
  auto tr = s.run();
  const int T = tr->nTokens;
  const auto map = s.attentionMap(*tr, demo::kSinkLayer, demo::kSinkHead);
  for (int i = 0; i < T; ++i) QVERIFY(map[size_t(i) * T] > 0.9f);
}

LL_TEST(routerSendsEachClassToItsExpert) {
  Session& s = session();
  s.setPrompt("Vowels and consonants: AEIOU bcdfg, digits 0123456789; punctuation (.,!?) too.");
  auto tr = s.run();
  const LayerTrace& L = tr->layers[size_t(demo::kMoeLayer)];
  const int T = tr->nTokens;
  QCOMPARE(int(L.experts.size()), T * tr->nExpertUsed);
  int counts[4] = {0, 0, 0, 0}, right = 0;
  for (int t = 0; t < T; ++t) {
    const int want = int(demo::classOfPiece(
        tr->pieces[size_t(t)] == " " ? std::string("\xe2\x96\x81") : tr->pieces[size_t(t)]));
    counts[want]++;
    right += L.experts[size_t(t) * tr->nExpertUsed] == want;
    // The router is confident, not just right.
    QVERIFY(L.routerProbs[size_t(t) * tr->nExpert + want] > 0.95f);
  }
  for (int c : counts) QVERIFY(c >= 5);  // every class is exercised
  QVERIFY2(double(right) / T > 0.95,
           "routed right " + std::to_string(right) + "/" + std::to_string(T));
  QCOMPARE(right, T);
}

LL_TEST(writingIsDeterministic) {
  const fs::path a = demoPath().parent_path() / "again.gguf";
  demo::writeDemoModel(a);
  QCOMPARE(fs::file_size(a), fs::file_size(demoPath()));
  fs::remove(a);
}

LL_TEST_MAIN("tst_demo_model")
