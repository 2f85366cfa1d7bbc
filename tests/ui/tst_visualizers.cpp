// Visualizer data helpers and Qt widgets that need no Vulkan (offscreen QPA): head-grid atlas
// packing, pooling and hit test; routing matrices; token-axis label thinning; token overlay
// painting (kept / dropped / score) and the score strip.
#include "visualizers/head_grid.h"
#include "visualizers/qt/score_strip.h"
#include "visualizers/qt/token_axis.h"
#include "visualizers/qt/token_overlay_view.h"
#include "visualizers/routing.h"

#include <qcustomplot.h>
#include <QTest>

#include <cmath>

using namespace ll::vis;

class TstVisualizers : public QObject {
  Q_OBJECT

 private slots:
  void headGridAtlasLayout() {
    // 2 layers x 3 heads of 4 tokens; value encodes (layer, head, q, k).
    const int L = 2, H = 3, T = 4;
    std::vector<float> a(L * H * T * T);
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h)
        for (int q = 0; q < T; ++q)
          for (int k = 0; k < T; ++k)
            a[((l * H + h) * T + q) * T + k] = l * 1000 + h * 100 + q * 10 + k;
    const HeadGridAtlas g = buildHeadGridAtlas(a, L, H, T, 64, 1);
    QCOMPARE(g.matrix.rows, 2 * 5 - 1);
    QCOMPARE(g.matrix.cols, 3 * 5 - 1);
    QCOMPARE(g.block, 1);
    QCOMPARE(g.matrix.at(0, 0), 0.0f);
    QCOMPARE(g.matrix.at(5 + 2, 10 + 3), 1000.0f + 200 + 20 + 3);  // layer 1, head 2, q 2, k 3
    QVERIFY(std::isnan(g.matrix.at(4, 0)));                        // gap row
    QVERIFY(std::isnan(g.matrix.at(0, 9)));                        // gap column
    auto hit = g.hitTest(10 + 3.5, 5 + 2.5);
    QVERIFY(hit);
    QCOMPARE(hit->layer, 1);
    QCOMPARE(hit->head, 2);
    QCOMPARE(hit->query, 2);
    QCOMPARE(hit->key, 3);
    QVERIFY(!g.hitTest(4.5, 0.5));  // gap
    QVERIFY(!g.hitTest(-1, 0));     // outside
    QVERIFY(!g.hitTest(0, 100));    // outside
  }

  void headGridPoolsLargeHeads() {
    const int T = 10;  // maxSide 4 -> block 3, side 4 (last block partial)
    std::vector<float> a(T * T);
    for (int q = 0; q < T; ++q)
      for (int k = 0; k < T; ++k) a[q * T + k] = q * T + k;
    const HeadGridAtlas g = buildHeadGridAtlas(a, 1, 1, T, 4, 0);
    QCOMPARE(g.block, 3);
    QCOMPARE(g.side, 4);
    QCOMPARE(g.matrix.at(0, 0), 22.0f);  // max of q 0..2, k 0..2
    QCOMPARE(g.matrix.at(3, 3), 99.0f);  // the 1x1 remainder block
    QCOMPARE(g.matrix.at(1, 2), 58.0f);  // q 3..5, k 6..8
    auto hit = g.hitTest(2.2, 1.7);
    QCOMPARE(hit->query, 3);
    QCOMPARE(hit->key, 6);
  }

  void headGridRejectsBadInput() {
    std::vector<float> a(10);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, buildHeadGridAtlas(a, 1, 1, 4));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, buildHeadGridAtlas(a, 0, 1, 4));
  }

  void routingMatrices() {
    const int L = 3, T = 2, E = 4;
    std::vector<float> s(L * T * E);
    for (int i = 0; i < L * T * E; ++i) s[i] = float(i);
    RoutingScores r{L, T, E, s};
    const HeatmapMatrix le = layerByExpert(r, 1);
    QCOMPARE(le.rows, L);
    QCOMPARE(le.cols, E);
    QCOMPARE(le.at(2, 3), float((2 * T + 1) * E + 3));
    const HeatmapMatrix te = tokenByExpert(r, 2);
    QCOMPARE(te.rows, T);
    QCOMPARE(te.at(1, 0), float((2 * T + 1) * E));
    QVERIFY_THROWS_EXCEPTION(std::out_of_range, layerByExpert(r, 2));
    RoutingScores bad{L, T, E + 1, s};
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, tokenByExpert(bad, 0));
  }

  void tokenAxisThinsLabels() {
    QCOMPARE(TokenAxis::labelStride(20.0, 14), 1);
    QCOMPARE(TokenAxis::labelStride(10.0, 14), 2);
    QCOMPARE(TokenAxis::labelStride(3.0, 14), 5);
    QCOMPARE(TokenAxis::labelStride(1.0, 14), 20);
    QCOMPARE(TokenAxis::labelStride(0.05, 14), 500);  // 32k tokens on ~1600 px
  }

  void tokenOverlayPaintsStates() {
    TokenOverlay o;
    o.scoreName = "attention received";
    o.items = {{"The", 0.9f, TokenState::Kept},
               {" quick", 0.1f, TokenState::Dropped},
               {" fox", 0.0f, TokenState::Neutral},
               {"\n", 0.5f, TokenState::Kept}};
    QCOMPARE(o.keptCount(), 2);
    QCOMPARE(o.droppedCount(), 1);
    TokenOverlayView v;
    v.resize(400, 120);
    v.setOverlay(o);
    const QImage img = v.grab().toImage();
    // Dropped: light grey chip; top score: viridis yellow; lowest score: viridis dark purple.
    auto centre = [&](int i) { return img.pixelColor(v.tokenRect(i).topLeft() + QPoint(2, 2)); };
    QCOMPARE(centre(1), QColor(215, 215, 218));
    QVERIFY(centre(0).red() > 200 && centre(0).blue() < 80);  // yellow
    QVERIFY(centre(2).red() < 80 && centre(2).green() < 30);  // dark purple
    QCOMPARE(v.tokenAt(v.tokenRect(2).center()), 2);
    QCOMPARE(v.tokenAt(QPoint(-5, -5)), -1);
    // Narrow widths wrap onto more lines.
    QVERIFY(v.heightForWidth(60) > v.heightForWidth(400));
  }

  void scoreStripBars() {
    TokenOverlay o;
    o.items = {{"a", 1.0f, TokenState::Kept},
               {"b", 2.0f, TokenState::Dropped},
               {"c", 3.0f, TokenState::Kept}};
    ScoreStrip s;
    s.resize(300, 150);
    s.setOverlay(o);
    int kept = -1, dropped = -1;
    for (int i = 0; i < s.plot()->plottableCount(); ++i) {
      auto* b = qobject_cast<QCPBars*>(s.plot()->plottable(i));
      if (b->brush().color() == ScoreStrip::stateColor(TokenState::Kept)) kept = b->data()->size();
      if (b->brush().color() == ScoreStrip::stateColor(TokenState::Dropped))
        dropped = b->data()->size();
    }
    QCOMPARE(kept, 2);
    QCOMPARE(dropped, 1);
  }
};

QTEST_MAIN(TstVisualizers)
#include "tst_visualizers.moc"
