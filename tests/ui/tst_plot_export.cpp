// QCustomPlot figure export under QT_QPA_PLATFORM=offscreen: PNG with real pixels, PDF with a
// PDF header, SVG (QSvgGenerator + QCPPainter) that parses as XML and carries the axis label.
#include "ui/plot_panel.h"
#include "visualizers/qt/plot_export.h"
#include "visualizers/qt/score_strip.h"
#include "visualizers/qt/token_ticks.h"

#include <qcustomplot.h>
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <algorithm>

class TstPlotExport : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  ll::ui::PlotPanel* m_panel = nullptr;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_panel = new ll::ui::PlotPanel;
    m_panel->resize(640, 360);
    m_panel->plot()->resize(640, 360);  // not shown: the layout has not sized it yet
    std::vector<double> y;
    for (int i = 0; i < 12; ++i) y.push_back(0.1 * i * i);
    m_panel->setCurve(y, {}, QStringLiteral("entropy (nats)"));
  }
  void cleanupTestCase() { delete m_panel; }

  void png() {
    const QString path = m_dir.filePath(QStringLiteral("plot.png"));
    QString err;
    QVERIFY2(m_panel->exportTo(path, &err), qPrintable(err));
    QImage img(path);
    QVERIFY(!img.isNull());
    QCOMPARE(img.width(), 640 * 2);  // scale 2
    // Non-trivial: many distinct colours, and the curve's colour (viridis dark purple) present.
    QSet<QRgb> colours;
    bool curve = false;
    for (int y = 0; y < img.height(); y += 2)
      for (int x = 0; x < img.width(); x += 2) {
        const QRgb c = img.pixel(x, y);
        colours.insert(c);
        if (qAbs(qRed(c) - 68) < 20 && qGreen(c) < 30 && qAbs(qBlue(c) - 84) < 20) curve = true;
      }
    QVERIFY2(colours.size() > 8, qPrintable(QString::number(colours.size())));
    QVERIFY(curve);
  }

  void pdf() {
    const QString path = m_dir.filePath(QStringLiteral("plot.pdf"));
    QVERIFY(m_panel->exportTo(path));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.read(5).startsWith("%PDF-"));
    QVERIFY(f.size() > 1000);
  }

  void svg() {
    const QString path = m_dir.filePath(QStringLiteral("plot.svg"));
    QVERIFY(m_panel->exportTo(path));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray data = f.readAll();
    QXmlStreamReader xml(data);
    bool sawSvg = false;
    QString text;
    while (!xml.atEnd()) {
      xml.readNext();
      if (xml.isStartElement() && xml.name() == QLatin1String("svg")) sawSvg = true;
      if (xml.isCharacters()) text += xml.text();
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QVERIFY(sawSvg);
    QVERIFY2(text.contains(QStringLiteral("entropy (nats)")), "axis label missing from SVG");
    QVERIFY(text.contains(QStringLiteral("query token")));
  }

  void unknownFormatIsAnError() {
    QString err;
    QVERIFY(!m_panel->exportTo(m_dir.filePath(QStringLiteral("plot.xyz")), &err));
    QVERIFY(err.contains(QStringLiteral("unknown figure format")));
  }

  // Token labels on the x axis never crowd: at 27 tokens on a narrow plot every n-th is labelled
  // (with its index), labelled ticks are at least kMinLabelSpacing apart, and a wider plot shows
  // every token again. (All 27 were labelled 12 px apart before, overlapping at 45 degrees.)
  void tokenLabelsThinToTheWidth() {
    ll::ui::PlotPanel panel;
    panel.resize(420, 260);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QStringList tokens;
    std::vector<double> y;
    for (int i = 0; i < 27; ++i) {
      tokens << QStringLiteral("tok%1").arg(i);
      y.push_back(0.1 * i);
    }
    panel.setCurve(y, tokens, QStringLiteral("entropy (nats)"));
    QCustomPlot* p = panel.plot();
    p->replot();
    auto minSpacing = [&] {
      const QList<int> l = panel.labelledTokens();
      double least = 1e9;
      for (int i = 1; i < l.size(); ++i)
        least = std::min(least, p->xAxis->coordToPixel(l[i]) - p->xAxis->coordToPixel(l[i - 1]));
      return least;
    };
    const QList<int> narrow = panel.labelledTokens();
    QVERIFY2(narrow.size() > 3 && narrow.size() < 27, qPrintable(QString::number(narrow.size())));
    QVERIFY2(minSpacing() >= ll::vis::TokenTicks::kMinLabelSpacing,
             qPrintable(QString::number(minSpacing())));
    QCOMPARE(narrow.first(), 0);
    auto* ticker = dynamic_cast<QCPAxisTickerText*>(p->xAxis->ticker().data());
    QVERIFY(ticker);
    QCOMPARE(ticker->ticks().value(narrow[1]), QStringLiteral("%1 tok%1").arg(narrow[1]));

    panel.resize(1400, 260);
    QTRY_COMPARE(panel.labelledTokens().size(), 27);
    p->replot();
    QVERIFY(minSpacing() >= ll::vis::TokenTicks::kMinLabelSpacing);
  }

  // The token-selection score strip thins the same way (it labelled up to 48 tokens, 60 degrees,
  // whatever its width).
  void scoreStripThinsToTheWidth() {
    ll::vis::ScoreStrip strip;
    strip.resize(360, 220);
    strip.show();
    QVERIFY(QTest::qWaitForWindowExposed(&strip));
    ll::vis::TokenOverlay overlay;
    for (int i = 0; i < 40; ++i) {
      ll::vis::TokenOverlayItem it;
      it.text = "t" + std::to_string(i);
      it.score = float(i);
      it.state = i % 3 ? ll::vis::TokenState::Kept : ll::vis::TokenState::Dropped;
      overlay.items.push_back(it);
    }
    strip.setOverlay(overlay);
    QCustomPlot* p = strip.plot();
    p->replot();
    const QList<int> l = strip.labelledTokens();
    QVERIFY2(l.size() > 2 && l.size() < 40, qPrintable(QString::number(l.size())));
    for (int i = 1; i < l.size(); ++i)
      QVERIFY(p->xAxis->coordToPixel(l[i]) - p->xAxis->coordToPixel(l[i - 1]) >=
              ll::vis::TokenTicks::kMinLabelSpacing);
    strip.resize(1500, 220);
    QTRY_COMPARE(strip.labelledTokens().size(), 40);
  }
};

QTEST_MAIN(TstPlotExport)
#include "tst_plot_export.moc"
