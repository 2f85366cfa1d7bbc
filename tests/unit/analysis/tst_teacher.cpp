// Student vs teacher for the front ends (§7): ana::compareModels on stories260K (student) and
// stories260K-moe4 (teacher, same tok512 vocabulary) against plain double loops over two fresh
// full runs (softmax, JSD / ln 2, H / ln |V|, medians, quadrants); the vocabulary check names the
// difference (GPT-2's 50257 tokens) and compareModels refuses such a pair; the JSON document, and
// its checked reader (a server's document: every value back bit for bit, malformed ones refused).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ana_common.h"
#include "runtime/analysis/teacher.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

std::vector<double> probs(const float* x, int n) {
  double m = -1e300, z = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, double(x[i]));
  std::vector<double> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) z += p[i] = std::exp(x[i] - m);
  for (double& v : p) v /= z;
  return p;
}

double plainMedian(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

LL_TEST(compareModelsMatchesPlainLoops) {
  LL_REQUIRE_SHARED();
  auto student = anatest::session("stories260K.gguf", "stories260K", "park");
  auto teacher = anatest::session("stories260K-moe4.gguf", "", "");
  QCOMPARE(vocabularyMismatch(student->model(), teacher->model()), std::string());
  const TeacherComparison c = compareModels(*student, *teacher);
  QCOMPARE(teacher->promptIds(), student->promptIds());

  auto a = anatest::session("stories260K.gguf", "stories260K", "park")->run();
  auto b = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park")->run();
  const int T = a->nTokens, V = a->nVocab;
  QCOMPARE(static_cast<int>(c.jsdBits.size()), T);
  std::vector<double> jsd, hn;
  for (int t = 0; t < T; ++t) {
    const auto p = probs(a->logitsRow(t), V), q = probs(b->logitsRow(t), V);
    double kp = 0, kq = 0, h = 0;
    for (int i = 0; i < V; ++i) {
      const double m = 0.5 * (p[i] + q[i]);
      if (p[i] > 0) kp += p[i] * std::log(p[i] / m), h -= p[i] * std::log(p[i]);
      if (q[i] > 0) kq += q[i] * std::log(q[i] / m);
    }
    jsd.push_back(0.5 * (kp + kq) / std::log(2.0));
    hn.push_back(h / std::log(double(V)));
    QVERIFY2(std::fabs(c.jsdBits[t] - jsd.back()) < 1e-5, std::to_string(t).c_str());
    QVERIFY(std::fabs(c.normalized[t] - hn.back()) < 1e-5);
  }
  QVERIFY(*std::max_element(jsd.begin(), jsd.end()) > 1e-5);  // the models do differ
  QVERIFY(std::fabs(c.jsdThreshold - plainMedian(jsd)) < 1e-5);
  QVERIFY(std::fabs(c.entropyThreshold - plainMedian(hn)) < 1e-5);
  for (int t = 0; t < T; ++t) {
    const bool highH = c.normalized[t] > c.entropyThreshold, highD = c.jsdBits[t] > c.jsdThreshold;
    const Quadrant want = highH ? (highD ? Quadrant::UnsureDisagree : Quadrant::UnsureAgree)
                                : (highD ? Quadrant::Overconfident : Quadrant::ConfidentAgree);
    QVERIFY(c.quadrant[t] == want);
  }
  const auto j = teacherComparisonJson(c, student->promptIds());
  QCOMPARE(j["quadrant"].size(), size_t(T));
  for (const auto& t : j["overconfident"]) QCOMPARE(j["quadrant"][t.get<int>()], "overconfident");
  QCOMPARE(quadrantName(Quadrant::Overconfident), std::string("overconfident"));

  // Given thresholds are used as given.
  const TeacherComparison g = compareModels(*student, *teacher, {0.5f, 0.01f});
  QCOMPARE(g.entropyThreshold, 0.5f);
  QCOMPARE(g.jsdThreshold, 0.01f);
}

LL_TEST(differentVocabulariesAreRefused) {
  LL_REQUIRE_SHARED();
  auto student = anatest::session("stories260K.gguf", "stories260K", "park");
  auto gpt2 = anatest::session("gpt2-tiny-f16.gguf", "", "");
  const std::string why = vocabularyMismatch(student->model(), gpt2->model());
  QVERIFY2(why.find("512") != std::string::npos && why.find("50257") != std::string::npos,
           why.c_str());
  bool threw = false;
  try {
    compareModels(*student, *gpt2);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("do not share a vocabulary") != std::string::npos;
  }
  QVERIFY(threw);
}

LL_TEST(documentReadsBackBitForBit) {
  LL_REQUIRE_SHARED();
  auto student = anatest::session("stories260K.gguf", "stories260K", "park");
  auto teacher = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  const TeacherComparison c = compareModels(*student, *teacher);
  const std::vector<int32_t>& ids = student->promptIds();
  // Through the text a server sends.
  const auto j = nlohmann::json::parse(teacherComparisonJson(c, ids).dump(1));
  const TeacherComparison r = parseTeacherComparisonJson(j, ids);
  QVERIFY(r.jsdBits.size() == c.jsdBits.size() &&
          std::memcmp(r.jsdBits.data(), c.jsdBits.data(), c.jsdBits.size() * 4) == 0);
  QVERIFY(r.normalized.size() == c.normalized.size() &&
          std::memcmp(r.normalized.data(), c.normalized.data(), c.normalized.size() * 4) == 0);
  QVERIFY(r.quadrant == c.quadrant);
  QVERIFY(std::memcmp(&r.jsdThreshold, &c.jsdThreshold, 4) == 0);
  QVERIFY(std::memcmp(&r.entropyThreshold, &c.entropyThreshold, 4) == 0);
  const auto refused = [&](nlohmann::json bad, const std::vector<int32_t>& want,
                           const std::string& field) {
    try {
      parseTeacherComparisonJson(bad, want);
    } catch (const std::invalid_argument& e) {
      QVERIFY2(std::string(e.what()).find(field) != std::string::npos, e.what());
      return;
    }
    QFAIL("accepted a malformed document (" + field + ")");
  };
  std::vector<int32_t> other = ids;
  other.back() = (other.back() + 1) % 512;
  refused(j, other, "'ids'");
  refused(j, std::vector<int32_t>(ids.begin(), ids.end() - 1), "'n_tokens'");
  auto b = j;
  b["jsd_bits"].erase(0);
  refused(b, ids, "'jsd_bits'");
  b = j;
  b["quadrant"][0] = "overjoyed";
  refused(b, ids, "'quadrant'");
  b = j;
  b["overconfident"] = {int(ids.size()) - 1, 0};
  refused(b, ids, "'overconfident'");
  b = j;
  b["entropy_norm"][1] = 1e300;
  refused(b, ids, "'entropy_norm'");
  refused(nlohmann::json::array(), ids, "not a JSON object");
}

LL_TEST_MAIN("tst_teacher")
