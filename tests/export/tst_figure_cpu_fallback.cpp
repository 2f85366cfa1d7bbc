// The figure path without a Vulkan device (ctest runs this with the Vulkan loader pointed at no
// driver): the heatmap is coloured on the CPU, the note says so, and the PNG / SVG / PDF files are
// still complete. Cell colours are checked against matplotlib's published viridis end points,
// the causal mask and NaN cells against the style's colours.
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "visualizers/figure/figure.h"

using namespace ll;

namespace {

// The colormap LUT is a degree-6 polynomial fit of matplotlib's: within 5 units of its values.
bool near(QRgb c, int r, int g, int b, int tol = 5) {
  return std::abs(qRed(c) - r) <= tol && std::abs(qGreen(c) - g) <= tol &&
         std::abs(qBlue(c) - b) <= tol;
}

vis::FigureSpec spec() {
  vis::FigureSpec f;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Row-major 3 x 4: the causal mask hides j > i; (2, 1) is NaN.
  f.matrix = {3, 4, {0.0f, 9.0f, 9.0f, 9.0f, 1.0f, 0.0f, 9.0f, 9.0f, 0.5f, nan, 1.0f, 9.0f}};
  f.style.causalMask = true;
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  f.title = "CPU fallback heatmap";
  f.caption = "LayerLens · test";
  f.rowLabels = {"q0", "q1", "q2"};
  f.colLabels = {"k0", "k1", "k2", "k3"};
  f.colorbarTitle = "probability";
  return f;
}

}  // namespace

class TstFigureCpuFallback : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private slots:
  void heatmapColouredOnTheCpu() {
    QString note;
    const QImage img = vis::renderFigureHeatmap(spec(), &note);
    QVERIFY2(note.contains("Vulkan unavailable"), qPrintable("no fallback note: " + note));
    QCOMPARE(img.size(), QSize(4, 3));             // one pixel per cell
    QVERIFY(near(img.pixel(0, 0), 68, 1, 84));     // viridis(0)
    QVERIFY(near(img.pixel(0, 1), 253, 231, 37));  // viridis(1)
    QVERIFY(near(img.pixel(2, 2), 253, 231, 37));
    QVERIFY(near(img.pixel(0, 2), 33, 145, 140));  // viridis(0.5)
    const auto st = spec().style;
    QVERIFY(near(img.pixel(3, 0), int(std::lround(st.maskRgb[0] * 255)),
                 int(std::lround(st.maskRgb[1] * 255)), int(std::lround(st.maskRgb[2] * 255))));
    QVERIFY(near(img.pixel(1, 2), int(std::lround(st.backgroundRgb[0] * 255)),
                 int(std::lround(st.backgroundRgb[1] * 255)),
                 int(std::lround(st.backgroundRgb[2] * 255))));
  }

  void filesInEveryFormat() {
    for (const char* ext : {"png", "svg", "pdf"}) {
      const QString path = m_dir.filePath(QString("fallback.") + ext);
      QString err, note;
      QVERIFY2(vis::exportFigure(spec(), path, 2.0, &err, &note), qPrintable(err));
      QVERIFY(note.contains("Vulkan unavailable"));
      QFile f(path);
      QVERIFY(f.open(QIODevice::ReadOnly));
      const QByteArray data = f.readAll();
      QVERIFY(data.size() > 500);
      if (QString(ext) == "png") {
        const QImage img(path);
        QCOMPARE(img.size(), (vis::figureSize(spec()) * 2.0).toSize());
        // The heatmap's cells are in the picture at both ends of the colour map.
        bool lo = false, hi = false;
        for (int y = 0; y < img.height(); ++y)
          for (int x = 0; x < img.width(); ++x) {
            lo = lo || near(img.pixel(x, y), 68, 1, 84);
            hi = hi || near(img.pixel(x, y), 253, 231, 37);
          }
        QVERIFY(lo && hi);
      } else if (QString(ext) == "svg") {
        QVERIFY(data.contains("CPU fallback heatmap"));
        QVERIFY(data.contains("<image"));
        QVERIFY(data.contains("k3"));
      } else {
        QVERIFY(data.startsWith("%PDF-"));
        QVERIFY(data.contains("/Page"));
      }
    }
  }
};

QTEST_MAIN(TstFigureCpuFallback)
#include "tst_figure_cpu_fallback.moc"
