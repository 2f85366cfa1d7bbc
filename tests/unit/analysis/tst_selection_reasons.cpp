// Why a selection method keeps more than k (runtime/analysis/selection_reasons.h): the sentence
// comes from the method's own run on small hand-made inputs and names the parameters and counts
// that make the kept set larger than k; nothing is said when it is not.
#include <string>
#include <vector>

#include "lltest.h"
#include "runtime/analysis/selection_reasons.h"

using namespace ll::rt::ana;

namespace {

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Two heads over T = 10 tokens: head 0 attends most to the oldest tokens, head 1 to the newest.
constexpr int kT = 10;
float weight(int h, int j) {
  return h == 0 ? float(kT - j) : float(j + 1);
}
void rows(int h, int i, float* row) {
  for (int j = 0; j < kT; ++j) row[j] = j <= i ? weight(h, j) : 0.0f;
}

}  // namespace

LL_TEST(snapKvUnionOverHeads) {
  const Selection r = snapKv(rows, kT, 2, /*capacity=*/4, /*window=*/2, /*kernel=*/1);
  // Per head: window {8, 9} + top 2 earlier ({0, 1} resp. {6, 7}); union of 6.
  QCOMPARE(int(r.kept.size()), 6);
  const std::string s = snapKvKeepReason(r, 4, kT, 4, 2);
  QVERIFY2(has(s, "SnapKV keeps 6 > k = 4"), s);
  QVERIFY2(has(s, "observation window of the last 2 tokens is always kept"), s);
  QVERIFY2(has(s, "each of the 2 heads keeps its own top 2 earlier tokens"), s);
  QVERIFY2(has(s, "union over heads holds 4"), s);
  // One head keeps exactly the capacity: no reason.
  const Selection one = snapKv(rows, kT, 1, 4, 2, 1);
  QCOMPARE(int(one.kept.size()), 4);
  QVERIFY(snapKvKeepReason(one, 4, kT, 4, 2).empty());
}

LL_TEST(snapKvCapacityAboveK) {
  // k = 1: the capacity is raised to window + 1 = 3 and the prompt (10) is larger.
  const Selection r = snapKv(rows, kT, 1, 3, 2, 1);
  QCOMPARE(int(r.kept.size()), 3);
  const std::string s = snapKvKeepReason(r, 1, kT, 3, 2);
  QVERIFY2(has(s, "SnapKV keeps 3 > k = 1"), s);
  QVERIFY2(has(s, "capacity C = 3 is at least the window + 1"), s);
  // A prompt that fits the capacity keeps every token.
  const Selection all = snapKv(rows, kT, 2, 12, 3, 1);
  QCOMPARE(int(all.kept.size()), kT);
  const std::string f = snapKvKeepReason(all, 8, kT, 12, 3);
  QVERIFY2(has(f, "SnapKV keeps 10 > k = 8") && has(f, "10 tokens fit the capacity C = 12"), f);
}

LL_TEST(h2oRecentAndHeavyPerHead) {
  std::vector<float> colSum(2 * kT);
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < kT; ++j) colSum[size_t(h) * kT + j] = weight(h, j);
  const Selection r = h2o(colSum, kT, 2, /*heavy=*/2, /*recent=*/3);
  // Recent {7, 8, 9}; heavy {0, 1} and {5, 6}.
  QCOMPARE(int(r.kept.size()), 7);
  const std::string s = h2oKeepReason(r, 5, kT, 2, 3);
  QVERIFY2(has(s, "H2O keeps 7 > k = 5"), s);
  QVERIFY2(has(s, "the 3 most recent tokens are always kept"), s);
  QVERIFY2(has(s, "each of the 2 heads keeps its own 2 heavy hitters"), s);
  QVERIFY2(has(s, "union over heads holds 4"), s);
  QVERIFY(h2oKeepReason(r, 7, kT, 2, 3).empty());
}

LL_TEST(promptDistillStages) {
  // T = 6, one head of width 1: q_last = 1, keys 5..0, so earlier tokens score in order.
  std::vector<float> q(6, 0.0f), k{5, 4, 3, 2, 1, 0};
  q[5] = 1.0f;
  QkView v;
  v.q = q.data();
  v.k = k.data();
  v.T = 6;
  v.nHead = v.nHeadKv = v.headDim = 1;
  const Selection s1 = promptDistillStage(v, {0, 1, 2, 3, 4, 5}, 2, 1);
  QCOMPARE(s1.kept, (std::vector<int>{0, 1, 5}));
  const Selection s2 = promptDistillStage(v, s1.kept, 1, 1);
  QCOMPARE(s2.kept, (std::vector<int>{0, 5}));
  const std::vector<DistillStage> stages{{0, 2}, {1, 1}};
  const std::string s = promptDistillKeepReason(stages, {s1.kept, s2.kept}, 1);
  QVERIFY2(has(s, "PromptDistill keeps 2 > k = 1"), s);
  QVERIFY2(has(s, "plus the last token itself (always kept)"), s);
  QVERIFY2(has(s, "layer 0 (k 2) keeps 3, layer 1 (k 1) keeps 2"), s);
  // The stages' own k above the panel's k is named.
  const std::string big = promptDistillKeepReason({{0, 2}}, {s1.kept}, 1);
  QVERIFY2(has(big, "the last stage's k = 2"), big);
  QVERIFY(promptDistillKeepReason(stages, {s1.kept, s2.kept}, 2).empty());
}

LL_TEST_MAIN("tst_selection_reasons")
