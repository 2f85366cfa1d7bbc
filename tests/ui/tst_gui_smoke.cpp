// GUI smoke test (run under Xvfb by packaging/test.sh): opens the main window, waits until the
// Vulkan attention map has rendered, grabs it with QVulkanWindow::grab() and checks the test
// heatmap's colours are there (not a grey or black area), then saves a PNG for inspection.
#include <qcustomplot.h>
#include "ui/heatmap_view.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "visualizers/colormap.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/head_grid_view.h"
#include "visualizers/qt/heatmap_window.h"
#include "visualizers/qt/routing_view.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QScreen>
#include <QSignalSpy>
#include <QTest>
#include <QVulkanInstance>

class TstGuiSmoke : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    const bool expect = qgetenv("LAYERLENS_EXPECT_LAVAPIPE") == "1";
    const QString platform = QGuiApplication::platformName();
    if (platform == QLatin1String("offscreen") || platform == QLatin1String("minimal")) {
      if (expect) QFAIL("the GUI smoke test needs a window system (run it under xvfb-run)");
      QSKIP("no window system (offscreen QPA): run under xvfb-run");
    }
  }

  // A heatmap whose matrix is taken away (a panel cleared on a model change) draws only its
  // background, not the previous upload at a default scale.
  void clearedHeatmapDrawsNothing() {
    QVulkanInstance inst;
    inst.setApiVersion(QVersionNumber(1, 0));
    if (!inst.create()) QSKIP("no Vulkan instance");
    ll::vis::HeatmapWindow hw;
    hw.setVulkanInstance(&inst);
    hw.resize(200, 150);
    auto m = std::make_shared<ll::vis::HeatmapMatrix>();
    m->rows = m->cols = 8;
    m->values.assign(64, 1.0f);
    hw.setMatrix(m);
    hw.show();
    QVERIFY(QTest::qWaitForWindowExposed(&hw));
    QTRY_VERIFY_WITH_TIMEOUT(hw.framesRendered() > 0 && hw.supportsGrab(), 20000);
    auto differing = [&] {
      QImage img = hw.grab().convertToFormat(QImage::Format_RGB32);
      const auto& bg = hw.style().backgroundRgb;
      int n = 0;
      for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x) {
          const QRgb c = img.pixel(x, y);
          // Background is grey, so a red/blue swap in grab() does not matter.
          n += qAbs(qRed(c) - int(bg[0] * 255 + 0.5f)) > 3 ||
               qAbs(qGreen(c) - int(bg[1] * 255 + 0.5f)) > 3;
        }
      return n;
    };
    QVERIFY(differing() > 1000);  // the data is drawn
    const int frames = hw.framesRendered();
    hw.setMatrix(nullptr);
    QTRY_VERIFY_WITH_TIMEOUT(hw.framesRendered() > frames, 10000);
    QCOMPARE(differing(), 0);
  }

  void mainWindowRendersHeatmap() {
    QVulkanInstance inst;
    inst.setApiVersion(QVersionNumber(1, 0));
    if (!inst.create()) {
      if (qgetenv("LAYERLENS_EXPECT_LAVAPIPE") == "1")
        QFAIL(qPrintable(QStringLiteral("lavapipe (mesa-vulkan-drivers) expected but no "
                                        "Vulkan instance (error %1)")
                             .arg(inst.errorCode())));
      QSKIP("no Vulkan instance");
    }
    ll::ui::MainWindow w(&inst);
    w.resize(1200, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    ll::vis::HeatmapWindow* hw = w.heatmapView()->map()->heatmapWindow();
    QVERIFY(hw);
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > 0 && hw->supportsGrab(), 20000);
    QImage img = hw->grab();
    QVERIFY(!img.isNull());
    // QVulkanWindow::grab() returns R and B swapped on BGRA swapchains.
    if (hw->colorFormat() == VK_FORMAT_B8G8R8A8_UNORM ||
        hw->colorFormat() == VK_FORMAT_B8G8R8A8_SRGB)
      img = img.rgbSwapped();
    img = img.convertToFormat(QImage::Format_RGB32);
    const QString out = QDir::temp().filePath(QStringLiteral("layerlens_gui_smoke.png"));
    img.save(out);
    qInfo("saved %s (%dx%d, format %d)", qPrintable(out), img.width(), img.height(),
          int(hw->colorFormat()));

    // Count pixels near viridis' dark end (low attention) and bright end (the first token's
    // row, weight 1), plus grey/black coverage.
    const auto& lut = ll::vis::colormapLut(ll::vis::Colormap::Viridis);
    auto near = [&](QRgb c, int idx, int tol) {
      return qAbs(qRed(c) - lut[idx * 4]) <= tol && qAbs(qGreen(c) - lut[idx * 4 + 1]) <= tol &&
             qAbs(qBlue(c) - lut[idx * 4 + 2]) <= tol;
    };
    int dark = 0, bright = 0, greyOrBlack = 0, total = 0;
    for (int y = 0; y < img.height(); y += 2)
      for (int x = 0; x < img.width(); x += 2) {
        const QRgb c = img.pixel(x, y);
        ++total;
        if (near(c, 0, 24)) ++dark;
        if (near(c, 255, 12)) ++bright;
        if (qAbs(qRed(c) - qGreen(c)) < 6 && qAbs(qGreen(c) - qBlue(c)) < 6) ++greyOrBlack;
      }
    qInfo("dark %d bright %d grey/black %d of %d sampled pixels", dark, bright, greyOrBlack, total);
    QVERIFY2(bright > 20, "the brightest viridis colour (yellow) is missing: colours not rendered");
    QVERIFY2(dark > 200, "viridis' dark end is missing: colours not rendered");
    QVERIFY2(greyOrBlack < total * 0.8, "the Vulkan area is mostly grey or black");
    // An sRGB swapchain would have washed the colours out: the yellow must be saturated.
    QVERIFY(hw->colorFormat() == VK_FORMAT_B8G8R8A8_UNORM ||
            hw->colorFormat() == VK_FORMAT_R8G8B8A8_UNORM);

    // Hover readout: moving over a cell reports (query, key, value).
    QSignalSpy spy(w.heatmapView()->map(), &ll::vis::AttentionMapView::hovered);
    QMouseEvent move(QEvent::MouseMove, QPointF(5, 5), hw->mapToGlobal(QPointF(5, 5)), Qt::NoButton,
                     Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(hw, &move);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(3).toInt(), 0);       // row 0
    QCOMPARE(spy.at(0).at(4).toInt(), 0);       // col 0
    QCOMPARE(spy.at(0).at(2).toFloat(), 1.0f);  // first token attends only to itself

    // File > Export attention map: a PNG of the whole map through the offscreen path.
    const QString png = QDir::temp().filePath(QStringLiteral("layerlens_export_smoke.png"));
    QString err;
    QVERIFY2(w.heatmapView()->exportImage(png, &err), qPrintable(err));
    const QImage exported(png);
    QVERIFY(!exported.isNull());
    const QColor corner = exported.pixelColor(2, 2);  // query 0 / key 0 = 1.0: viridis yellow
    QVERIFY2(corner.red() > 200 && corner.green() > 200 && corner.blue() < 80,
             qPrintable(corner.name()));
  }

  // The full window with a model loaded (the MoE fixture, so every panel has data), grabbed from
  // the X screen so the Vulkan areas are included; saved as a PNG for inspection.
  void fullWindowScreenshot() {
    const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
    const QString model =
        QString::fromLocal8Bit(dir) + QStringLiteral("/models/stories260K-moe4.gguf");
    if (dir.isEmpty() || !QFile::exists(model)) QSKIP("stories260K-moe4.gguf not found");
    QVulkanInstance inst;
    inst.setApiVersion(QVersionNumber(1, 0));
    if (!inst.create()) QSKIP("no Vulkan instance");
    ll::ui::MainWindow w(&inst, nullptr, 2);
    w.resize(1500, 950);
    w.setPrompt(
        QStringLiteral("Once upon a time, there was a little girl named Lily. She loved to play"));
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy loaded(w.controller(), &ll::ui::SessionController::modelLoaded);
    w.openModel(model);
    QVERIFY(loaded.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(
        w.shownSnapshot() && w.shownSnapshot()->complete && !w.controller()->busy(), 30000);
    ll::vis::HeatmapWindow* hw = w.heatmapView()->map()->heatmapWindow();
    QVERIFY(hw);
    const int frames = hw->framesRendered();
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > frames || frames > 0, 10000);
    QTest::qWait(500);
    const QImage shot =
        w.screen()->grabWindow(w.winId()).toImage().convertToFormat(QImage::Format_RGB32);
    QVERIFY(!shot.isNull());
    const QString out = QDir::temp().filePath(QStringLiteral("layerlens_window.png"));
    QVERIFY(shot.save(out));
    qInfo("saved %s (%dx%d)", qPrintable(out), shot.width(), shot.height());
    // The attention map's area holds viridis colours (not a grey placeholder).
    const QRect area(hw->mapToGlobal(QPoint(0, 0)) - w.mapToGlobal(QPoint(0, 0)), hw->size());
    const auto& lut = ll::vis::colormapLut(ll::vis::Colormap::Viridis);
    int viridis = 0, total = 0;
    for (int y = area.top(); y < area.bottom(); y += 3)
      for (int x = area.left(); x < area.right(); x += 3) {
        if (!shot.rect().contains(x, y)) continue;
        const QRgb c = shot.pixel(x, y);
        ++total;
        for (int i = 0; i < 256; i += 8)
          if (qAbs(qRed(c) - lut[i * 4]) < 10 && qAbs(qGreen(c) - lut[i * 4 + 1]) < 10 &&
              qAbs(qBlue(c) - lut[i * 4 + 2]) < 10) {
            ++viridis;
            break;
          }
      }
    qInfo("attention area: %d of %d sampled pixels are viridis colours", viridis, total);
    QVERIFY(total > 100);
    QVERIFY2(viridis > total / 4, "the attention map is not visible in the window grab");
  }

  void zoomPanAndHeadGridClick() {
    QVulkanInstance inst;
    inst.setApiVersion(QVersionNumber(1, 0));
    if (!inst.create()) QSKIP("no Vulkan instance (checked above)");
    ll::vis::HeadGridView grid(&inst);
    const int L = 2, H = 3, T = 8;
    std::vector<float> a(L * H * T * T);
    for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 17) / 16.0f;
    grid.resize(600, 400);
    grid.setAttention(a, L, H, T);
    grid.show();
    QVERIFY(QTest::qWaitForWindowExposed(&grid));
    ll::vis::HeatmapWindow* hw = grid.heatmapWindow();
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > 0, 20000);

    // Keys: '+' zooms in around the centre, arrows pan, '0' fits again.
    const ll::vis::HeatmapView fitted = hw->view();
    QTest::keyClick(hw, Qt::Key_Plus);
    QVERIFY(hw->view().cellsPerPixelX < fitted.cellsPerPixelX * 0.9);
    const double ox = hw->view().originX;
    QTest::keyClick(hw, Qt::Key_Right);
    QVERIFY(hw->view().originX > ox);
    QTest::keyClick(hw, Qt::Key_0);
    QCOMPARE(hw->view().cellsPerPixelX, fitted.cellsPerPixelX);
    // Wheel zooms about the cursor: the cell under it stays put.
    const QPointF at(hw->width() * 0.3, hw->height() * 0.4);
    const QPointF before = hw->cellAt(at);
    QWheelEvent wheel(at, hw->mapToGlobal(at), QPoint(), QPoint(0, 240), Qt::NoButton,
                      Qt::NoModifier, Qt::NoScrollPhase, false);
    QCoreApplication::sendEvent(hw, &wheel);
    QVERIFY(hw->view().cellsPerPixelX < fitted.cellsPerPixelX * 0.7);
    QVERIFY(std::abs(hw->cellAt(at).x() - before.x()) < 1e-6);
    const int frames = hw->framesRendered();
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > frames, 10000);  // re-rendered after zoom
    QTest::keyClick(hw, Qt::Key_Home);

    // Click in the middle of layer 1, head 2 selects it.
    QSignalSpy spy(&grid, &ll::vis::HeadGridView::headSelected);
    const auto* g = grid.atlas();
    const double col = 2 * (g->side + g->gap) + g->side / 2.0;
    const double row = 1 * (g->side + g->gap) + g->side / 2.0;
    const ll::vis::HeatmapView& v = hw->view();
    const double dpr = hw->devicePixelRatio();
    const QPoint pos(int((col - v.originX) / v.cellsPerPixelX / dpr),
                     int((row - v.originY) / v.cellsPerPixelY / dpr));
    QTest::mouseClick(hw, Qt::LeftButton, Qt::NoModifier, pos);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 1);
    QCOMPARE(spy.at(0).at(1).toInt(), 2);
  }

  void routingViewRendersAndFillsStrip() {
    QVulkanInstance inst;
    inst.setApiVersion(QVersionNumber(1, 0));
    if (!inst.create()) QSKIP("no Vulkan instance (checked above)");
    ll::vis::RoutingView view(&inst);
    const int L = 4, T = 5, E = 8;
    std::vector<float> s(L * T * E);
    for (size_t i = 0; i < s.size(); ++i) s[i] = float((i * 37) % 11) / 10.0f;
    view.resize(600, 500);
    view.setScores(s, L, T, E, {"a", "b", "c", "d", "e"});
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto* hw = view.map()->heatmapWindow();
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > 0, 20000);
    QCOMPARE(hw->matrix()->rows, T);  // token x expert of layer 0
    QCOMPARE(hw->matrix()->cols, E);
    auto* bars = qobject_cast<QCPBars*>(view.strip()->plottable(0));
    QCOMPARE(bars->data()->size(), E);
    QCOMPARE(bars->data()->at(3)->value, double(s[3]));  // layer 0, token 0, expert 3
    view.showMatrix(ll::vis::RoutingView::Mode::LayerByExpert, 2);
    QCOMPARE(hw->matrix()->rows, L);
    QCOMPARE(bars->data()->at(1)->value, double(s[(0 * T + 2) * E + 1]));  // layer 0, token 2
    QVERIFY_THROWS_EXCEPTION(std::out_of_range,
                             view.showMatrix(ll::vis::RoutingView::Mode::LayerByExpert, T));
  }
};

// Without any display the xcb plugin would abort before a test runs: fall back to the offscreen
// platform so initTestCase can skip (or fail when LAYERLENS_EXPECT_LAVAPIPE=1) with a message.
int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
      qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  TstGuiSmoke test;
  QTEST_SET_MAIN_SOURCE_PATH
  return QTest::qExec(&test, argc, argv);
}
#include "tst_gui_smoke.moc"
