// The entropy plots are legible: whole-layer ticks on the layer axes, and in the dark theme the
// plot background, axes, tick labels, grid and curves take the theme's colours with enough
// contrast against the background (the curves were dark blue / purple on near-black).
#include "ui/entropy_panel.h"
#include "ui/main_window.h"
#include "ui/plot_panel.h"
#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QSettings>
#include <QTest>

#include <cmath>

using namespace ll;

namespace {

// WCAG 2 contrast ratio of two colours (1 .. 21).
double contrast(const QColor& a, const QColor& b) {
  auto lum = [](const QColor& c) {
    auto ch = [](double v) {
      return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF());
  };
  const double la = lum(a), lb = lum(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

ui::SnapshotPtr twoLayerSnapshot() {
  auto s = std::make_shared<ui::Snapshot>();
  s->lensEntropy = {2.0f, 1.2f, 0.4f};  // embeddings + 2 layers
  s->lensRank = {40, 3, 0};
  s->outputEntropy = {1.5f, 0.7f, 0.9f};
  s->tokens = {QStringLiteral("<s>"), QStringLiteral("a"), QStringLiteral("b")};
  return s;
}

}  // namespace

class TstPlotTheme : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_plot_theme"));
    QSettings().clear();
  }

  // A 2-layer model has 3 points on the layer axis: ticks at 0, 1, 2 only (no 0.5, 1.5).
  void layerTicksAreWholeLayers() {
    ui::SelectionModel selection;
    ui::EntropyPanel panel(&selection);
    panel.resize(480, 640);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    panel.showSnapshot(twoLayerSnapshot());
    for (QCustomPlot* p : {panel.lensPlot(), panel.rankPlot()}) {
      p->replot();
      const QVector<double> ticks = p->xAxis->tickVector();
      QVERIFY(!ticks.isEmpty());
      for (double t : ticks)
        QVERIFY2(t == std::round(t), qPrintable(QStringLiteral("tick at %1").arg(t)));
      for (double want : {0.0, 1.0, 2.0}) QVERIFY(ticks.contains(want));
      QVERIFY(p->xAxis->subTickPen().style() == Qt::NoPen || !p->xAxis->subTicks());
    }
  }

  // Theme::Dark: every entropy plot paints the theme's background, axes, labels and grid, and its
  // curves contrast with the background (>= 4.5:1); back in Light they are readable too.
  void plotsFollowTheme() {
    ui::MainWindow w(nullptr, nullptr, 1);
    w.resize(1200, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    ui::EntropyPanel* e = w.entropyPanel();
    for (ui::Theme theme : {ui::Theme::Dark, ui::Theme::Light}) {
      w.setTheme(theme);
      e->showSnapshot(twoLayerSnapshot());  // pens rebuilt on new data keep the theme
      const ui::ThemeColors& c = ui::themeColors(theme);
      for (QCustomPlot* p : {e->lensPlot(), e->outputPlot()->plot(), e->rankPlot()}) {
        // The painted background (QCustomPlot keeps its brush without a getter).
        const QColor bg = p->toPixmap(200, 150).toImage().pixelColor(1, 1);
        QCOMPARE(bg, c.plotBackground);
        if (theme == ui::Theme::Dark) QVERIFY(bg.lightnessF() < 0.25);
        for (QCPAxis* ax : {p->xAxis, p->yAxis}) {
          QCOMPARE(ax->tickLabelColor(), c.text);
          QCOMPARE(ax->labelColor(), c.text);
          QCOMPARE(ax->basePen().color(), c.axis);
          QCOMPARE(ax->grid()->pen().color(), c.grid);
          QVERIFY(contrast(ax->tickLabelColor(), bg) >= 4.5);
          QVERIFY(contrast(ax->basePen().color(), bg) >= 3.0);
          // The grid is visible but quieter than the data.
          QVERIFY(contrast(ax->grid()->pen().color(), bg) >= 1.15);
          QVERIFY(contrast(ax->grid()->pen().color(), bg) < contrast(ax->basePen().color(), bg));
        }
        const QColor pen = p->graph(0)->pen().color();
        QVERIFY2(
            contrast(pen, bg) >= 4.5,
            qPrintable(
                QStringLiteral("%1 on %2: %3").arg(pen.name(), bg.name()).arg(contrast(pen, bg))));
      }
    }
  }
};

QTEST_MAIN(TstPlotTheme)
#include "tst_plot_theme.moc"
