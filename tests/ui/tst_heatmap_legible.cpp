// Legibility of the Vulkan maps in the main window (needs a window system and lavapipe: run under
// xvfb-run): the attention map's colour bar, selection marker and hover readout; the head grid's
// labels, framed head, readout and fitted rows; the theme's mask colour on screen.
#include "ui/attention_panel.h"
#include "ui/heatmap_view.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/theme.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/color_bar.h"
#include "visualizers/qt/head_grid_axis.h"
#include "visualizers/qt/head_grid_view.h"
#include "visualizers/qt/heatmap_window.h"

#include <QComboBox>
#include <QFile>
#include <QGuiApplication>
#include <QScreen>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTest>
#include <QTextDocument>
#include <QToolTip>
#include <QVulkanInstance>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

QString plain(const QString& rich) {
  QTextDocument d;
  d.setHtml(rich);
  return d.toPlainText();
}

// The top-level tooltip label, when one is shown.
QWidget* tooltipWidget() {
  for (QWidget* w : QApplication::topLevelWidgets())
    if (w->inherits("QTipLabel") && w->isVisible()) return w;
  return nullptr;
}

// Distance from a point to the nearest point of a rectangle (0 inside): a tooltip is "next to
// the pointer" whether Qt puts it below right or, near a screen edge, above or left of it.
int distanceTo(const QRect& r, const QPoint& p) {
  const int dx = std::max({r.left() - p.x(), 0, p.x() - r.right()});
  const int dy = std::max({r.top() - p.y(), 0, p.y() - r.bottom()});
  return int(std::hypot(dx, dy));
}

// A tooltip next to a pointer on the screen. (A window wider than a small test screen puts the
// pointer off it; Qt then keeps the tip on the screen, away from the pointer.)
void expectNextTo(QWidget* tip, const QPoint& pointer) {
  if (!tip->screen()->geometry().contains(pointer)) {
    qWarning("pointer %d,%d is off the screen: tooltip position not checked", pointer.x(),
             pointer.y());
    return;
  }
  const int d = distanceTo(tip->geometry(), pointer);
  QVERIFY2(d < 40, qPrintable(QStringLiteral("tooltip %1 px from the pointer").arg(d)));
}

// The pixel row (window pixels) just before data row r: the first marker line (as the shader
// finds it: the cell under each pixel centre).
int lineAbove(const vis::HeatmapView& v, int r) {
  for (int y = 0; y < 4000; ++y)
    if (std::floor(v.originY + (y + 0.5) * v.cellsPerPixelY) < r &&
        std::floor(v.originY + (y + 1.5) * v.cellsPerPixelY) >= r)
      return y;
  return -1;
}

// QVulkanWindow::grab() of a window, red and blue put back for BGRA swapchains (the marker
// and mask colours compared here are grey, white or black, so only an order check is needed).
QImage grabFrame(vis::HeatmapWindow* w) {
  const int frames = w->framesRendered();
  w->requestUpdate();
  QTest::qWaitFor([&] { return w->framesRendered() > frames; }, 10000);
  return w->grab().convertToFormat(QImage::Format_RGB32);
}

}  // namespace

class TstHeatmapLegible : public QObject {
  Q_OBJECT

  std::unique_ptr<QVulkanInstance> m_inst;
  std::unique_ptr<ui::MainWindow> m_w;

  bool settle(const QString& prompt) { return uitest::waitSettled(m_w.get(), 30000, prompt); }

  vis::AttentionMapView* map() const { return m_w->heatmapView()->map(); }
  vis::HeadGridView* grid() const { return m_w->attentionPanel()->headGrid(); }

  void showGridTab() {
    auto* tabs = qobject_cast<QTabWidget*>(grid()->parentWidget()->parentWidget());
    QVERIFY(tabs);
    tabs->setCurrentWidget(grid());
    QTest::qWait(100);
  }

 private slots:
  void initTestCase() {
    const QString platform = QGuiApplication::platformName();
    if (platform == QLatin1String("offscreen") || platform == QLatin1String("minimal"))
      QSKIP("needs a window system (run under xvfb-run)");
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_heatmap_legible"));
    QSettings().clear();
    const QString model = modelPath("stories260K.gguf");
    if (model.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_inst = std::make_unique<QVulkanInstance>();
    m_inst->setApiVersion(QVersionNumber(1, 0));
    if (!m_inst->create()) QSKIP("no Vulkan instance");
    m_w = std::make_unique<ui::MainWindow>(m_inst.get(), nullptr, 2);
    m_w->resize(1600, 1000);
    m_w->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_w.get()));
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(model);
    QVERIFY(loaded.wait(30000));
    const QString prompt = QStringLiteral("Once upon a time, there was a little girl named Lily.");
    m_w->setPrompt(prompt);
    QVERIFY(settle(prompt));
    QVERIFY(map()->heatmapWindow());
  }

  void cleanupTestCase() {
    m_w.reset();
    m_inst.reset();
  }

  // The colour bar shows the colormap and the range of the displayed scale, and follows the
  // matrix, the colormap and the scale kind.
  void colorBarShowsScale() {
    vis::ColorBar* bar = map()->colorBar();
    QVERIFY(bar && bar->isVisible());
    QVERIFY(bar->geometry().left() >= map()->container()->geometry().right());  // beside the map
    auto* view = m_w->heatmapView();
    const QList<QComboBox*> combos = view->findChildren<QComboBox*>();
    QVERIFY(combos.size() >= 2);
    QComboBox* colormap = combos[0];
    QComboBox* scale = combos[1];
    auto expectRange = [&] {
      const vis::ResolvedRange r = vis::resolveRange(view->style(), *view->matrix());
      QCOMPARE(bar->highText(), QString::number(r.hi, 'g', 3));
      QCOMPARE(bar->lowText(), QString::number(r.lo, 'g', 3));
    };
    QVERIFY(view->matrix());
    QCOMPARE(bar->kindText(), QStringLiteral("linear"));
    QCOMPARE(bar->colormap(), vis::Colormap::Viridis);
    expectRange();

    colormap->setCurrentIndex(1);  // magma
    QCOMPARE(bar->colormap(), vis::Colormap::Magma);
    const QImage img = bar->grab().toImage().convertToFormat(QImage::Format_RGB32);
    const auto& lut = vis::colormapLut(vis::Colormap::Magma);
    // Column 10 of the widget runs through the gradient: high end at the top, low at the bottom.
    int topY = -1, bottomY = -1;
    for (int y = 0; y < img.height(); ++y) {
      const QRgb c = img.pixel(10, y);
      if (qAbs(qRed(c) - lut[255 * 4]) <= 3 && qAbs(qGreen(c) - lut[255 * 4 + 1]) <= 3 &&
          qAbs(qBlue(c) - lut[255 * 4 + 2]) <= 3 && topY < 0)
        topY = y;
      if (qAbs(qRed(c) - lut[0]) <= 3 && qAbs(qGreen(c) - lut[1]) <= 3 &&
          qAbs(qBlue(c) - lut[2]) <= 3)
        bottomY = y;
    }
    QVERIFY2(topY >= 0 && bottomY > topY + 40,
             qPrintable(QStringLiteral("%1 %2").arg(topY).arg(bottomY)));

    scale->setCurrentIndex(1);  // log
    QCOMPARE(bar->kindText(), QStringLiteral("log"));
    expectRange();
    scale->setCurrentIndex(2);  // per row: no single range
    QCOMPARE(bar->kindText(), QStringLiteral("per row"));
    QCOMPARE(bar->highText(), QStringLiteral("row max"));
    scale->setCurrentIndex(0);
    colormap->setCurrentIndex(0);

    // Another matrix (another head): the range follows.
    const auto before = view->matrix();
    m_w->selection()->setHead(0);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    QVERIFY(view->matrix() && view->matrix() != before);
    expectRange();
    m_w->selection()->setHead(ui::SelectionModel::kHeadMean);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
  }

  // The selected token's query row and a key column are framed by the renderer: the key clicked
  // on the map, or the selected token's own column when it was selected elsewhere.
  void selectionMarkerOnMap() {
    vis::HeatmapWindow* hw = map()->heatmapWindow();
    m_w->selection()->setToken(5);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    QCOMPARE(map()->selectedRow(), 5);
    QCOMPARE(map()->selectedCol(), 5);
    QCOMPARE(hw->marker().row0, 5);
    QCOMPARE(hw->marker().col0, 5);
    const QColor marker = ui::themeColors(ui::currentTheme()).marker;
    QImage img = grabFrame(hw);
    const vis::HeatmapView& v = hw->view();
    const int y = lineAbove(v, 5);
    QVERIFY(y > 0);
    // Across the map: under the data (x near the left) and over the masked triangle (right).
    for (int x : {3, img.width() - 4}) {
      const QColor c = img.pixelColor(x, y);
      QVERIFY2(qAbs(c.red() - marker.red()) <= 2 && qAbs(c.green() - marker.green()) <= 2,
               qPrintable(QStringLiteral("%1 at %2,%3").arg(c.name()).arg(x).arg(y)));
    }

    // A click on cell (row 9, key 3) selects token 9 and frames key column 3.
    const double dpr = hw->devicePixelRatio();
    auto cellPos = [&](int row, int col) {
      return QPoint(int(((col + 0.5) - v.originX) / v.cellsPerPixelX / dpr),
                    int(((row + 0.5) - v.originY) / v.cellsPerPixelY / dpr));
    };
    QTest::mouseClick(hw, Qt::LeftButton, {}, cellPos(9, 3));
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    QCOMPARE(m_w->selection()->token(), 9);
    QCOMPARE(hw->marker().row0, 9);
    QCOMPARE(hw->marker().col0, 3);
    // Selected elsewhere (the prompt, the keyboard): its own column.
    m_w->selection()->setToken(2);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    QCOMPARE(hw->marker().row0, 2);
    QCOMPARE(hw->marker().col0, 2);
  }

  // Hovering a cell shows query, key and value in a tooltip next to the pointer (token text
  // literal: "<s>" is not taken for HTML).
  void hoverReadoutAtPointer() {
    vis::HeatmapWindow* hw = map()->heatmapWindow();
    const vis::HeatmapView& v = hw->view();
    const double dpr = hw->devicePixelRatio();
    auto cellPos = [&](int row, int col) {
      return QPoint(int(((col + 0.5) - v.originX) / v.cellsPerPixelX / dpr),
                    int(((row + 0.5) - v.originY) / v.cellsPerPixelY / dpr));
    };
    const QStringList tokens = map()->queryTokens();
    QVERIFY(tokens.size() > 4);
    const QPoint p = cellPos(4, 1);
    QTest::mouseMove(hw, p);
    QTRY_VERIFY_WITH_TIMEOUT(QToolTip::isVisible(), 5000);
    QString text = plain(QToolTip::text());
    QVERIFY2(text.contains(QStringLiteral("query")) && text.contains(QStringLiteral("4")) &&
                 text.contains(tokens[4]) && text.contains(tokens[1]),
             qPrintable(text));
    const float value = m_w->heatmapView()->matrix()->at(4, 1);
    QVERIFY2(text.contains(QString::number(double(value), 'g', 4)), qPrintable(text));
    QWidget* tip = tooltipWidget();
    QVERIFY(tip);
    expectNextTo(tip, hw->mapToGlobal(p));
    QTest::mouseMove(hw, cellPos(0, 0));
    QTRY_VERIFY_WITH_TIMEOUT(plain(QToolTip::text()).contains(QStringLiteral("key 0")) ||
                                 plain(QToolTip::text()).contains(QStringLiteral("0 \u201c<s>")),
                             5000);
    text = plain(QToolTip::text());
    QVERIFY2(text.contains(QStringLiteral("\u201c<s>\u201d")), qPrintable(text));
  }

  // Layer and head labels beside the grid, the selected head framed, a readout at the pointer.
  void headGridLabelsFrameAndReadout() {
    showGridTab();
    vis::HeadGridView* g = grid();
    vis::HeatmapWindow* hw = g->heatmapWindow();
    const vis::HeadGridAtlas* a = g->atlas();
    QVERIFY(a);
    QTRY_VERIFY_WITH_TIMEOUT(hw->framesRendered() > 0, 10000);
    const auto layers = g->layerAxis()->visibleLabels();
    const auto heads = g->headAxis()->visibleLabels();
    QCOMPARE(layers.size(), a->nLayer);
    QCOMPARE(heads.size(), a->nHead);
    const vis::HeatmapView& v = hw->view();
    const double dpr = hw->devicePixelRatio();
    const int pitch = a->side + a->gap;
    for (int l = 0; l < a->nLayer; ++l) {
      QCOMPARE(layers[l].first, QStringLiteral("L%1").arg(l));
      const double top = (l * pitch - v.originY) / v.cellsPerPixelY / dpr;
      const double bottom = (l * pitch + a->side - v.originY) / v.cellsPerPixelY / dpr;
      QVERIFY(layers[l].second > top && layers[l].second < bottom);
    }
    QCOMPARE(heads.last().first, QStringLiteral("H%1").arg(a->nHead - 1));

    m_w->selection()->setLayer(2);
    m_w->selection()->setHead(3);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    a = g->atlas();  // a new snapshot brings a new atlas
    QVERIFY(a);
    const vis::HeatmapMarker m = hw->marker();
    QCOMPARE(m.kind, vis::HeatmapMarker::Kind::Box);
    QCOMPARE(m.row0, 2 * pitch);
    QCOMPARE(m.row1, 2 * pitch + a->side);
    QCOMPARE(m.col0, 3 * pitch);
    QCOMPARE(m.col1, 3 * pitch + a->side);
    // The frame's corner pixel has the marker colour.
    const QImage img = grabFrame(hw);
    const vis::HeatmapView& w = hw->view();
    const int x = int(std::ceil((m.col0 - w.originX) / w.cellsPerPixelX - 0.5));
    const int y = int(std::ceil((m.row0 - w.originY) / w.cellsPerPixelY - 0.5));
    const QColor marker = ui::themeColors(ui::currentTheme()).marker;
    const QColor c = img.pixelColor(x + 3, y);
    QVERIFY2(qAbs(c.red() - marker.red()) <= 2 && qAbs(c.green() - marker.green()) <= 2,
             qPrintable(c.name()));
    // Mean over heads frames the whole layer row.
    m_w->selection()->setHead(ui::SelectionModel::kHeadMean);
    QVERIFY(uitest::waitSettled(m_w.get(), 30000));
    a = g->atlas();
    QVERIFY(a);
    QCOMPARE(hw->marker().col0, 0);
    QCOMPARE(hw->marker().col1, a->matrix.cols);

    // Readout of tile (layer 1, head 2), query 3, key 1.
    const QPoint p(int(((2 * pitch + 1.5) - w.originX) / w.cellsPerPixelX / dpr),
                   int(((1 * pitch + 3.5) - w.originY) / w.cellsPerPixelY / dpr));
    QTest::mouseMove(hw, p);
    QTRY_VERIFY_WITH_TIMEOUT(
        QToolTip::isVisible() &&
            plain(QToolTip::text()).contains(QStringLiteral("layer 1, head 2")),
        5000);
    const QString text = plain(QToolTip::text());
    QVERIFY2(text.contains(QStringLiteral("query")) && text.contains(QStringLiteral("key")),
             qPrintable(text));
    QWidget* tip = tooltipWidget();
    QVERIFY(tip);
    expectNextTo(tip, hw->mapToGlobal(p));
    QTest::mouseMove(hw, QPoint(-5, -5));
  }

  // Every tile row is visible: the fitted view covers all nLayer rows of the atlas and the native
  // window is not cut by the tab page around it, at 1600x1000 and at 1024x700.
  void headGridShowsEveryRow() {
    showGridTab();
    for (const QSize size : {QSize(1600, 1000), QSize(1024, 700)}) {
      m_w->resize(size);
      QTest::qWait(300);
      vis::HeadGridView* g = grid();
      vis::HeatmapWindow* hw = g->heatmapWindow();
      const vis::HeadGridAtlas* a = g->atlas();
      QVERIFY(a);
      const vis::HeatmapView& v = hw->view();
      const double hPx = hw->height() * hw->devicePixelRatio();
      QVERIFY2(v.originY <= 1e-9 && v.originY + hPx * v.cellsPerPixelY >= a->matrix.rows - 1e-9,
               qPrintable(QStringLiteral("%1x%2: rows %3..%4 of %5 shown")
                              .arg(size.width())
                              .arg(size.height())
                              .arg(v.originY)
                              .arg(v.originY + hPx * v.cellsPerPixelY)
                              .arg(a->matrix.rows)));
      // The container (and so the native window) lies inside every ancestor's area.
      QWidget* c = g->container();
      QRect r(c->mapTo(m_w.get(), QPoint(0, 0)), c->size());
      for (QWidget* p = c->parentWidget(); p; p = p->parentWidget()) {
        const QRect pr(p->mapTo(m_w.get(), QPoint(0, 0)), p->size());
        QVERIFY2(pr.contains(r), qPrintable(QStringLiteral("%1x%2: the grid is cut by %3")
                                                .arg(size.width())
                                                .arg(size.height())
                                                .arg(QLatin1String(p->metaObject()->className()))));
        if (p == m_w.get()) break;
      }
      QCOMPARE(hw->size(), c->size());
      QCOMPARE(g->layerAxis()->visibleLabels().size(), a->nLayer);
    }
    m_w->resize(1600, 1000);
    QTest::qWait(200);
  }

  // A grid zoomed into and then given a larger atlas (a longer prompt: larger tiles; another
  // model: more layers) is fitted again: the zoom of the old shape would cut off the last rows.
  void headGridRefitsOnNewShape() {
    showGridTab();
    vis::HeatmapWindow* hw = grid()->heatmapWindow();
    hw->zoomAt(QPointF(hw->width() / 2.0, hw->height() / 2.0), 3.0);
    hw->panBy(QPointF(0, 40));
    const int rowsBefore = grid()->atlas()->matrix.rows;
    const QString longer = QStringLiteral(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "park with her friends and her dog.");
    m_w->setPrompt(longer);
    QVERIFY(settle(longer));
    const vis::HeadGridAtlas* a = grid()->atlas();
    QVERIFY(a && a->matrix.rows > rowsBefore);
    const vis::HeatmapView& v = hw->view();
    const double hPx = hw->height() * hw->devicePixelRatio();
    QVERIFY2(v.originY <= 1e-9 && v.originY + hPx * v.cellsPerPixelY >= a->matrix.rows - 1e-9,
             qPrintable(QStringLiteral("rows %1..%2 of %3 shown")
                            .arg(v.originY)
                            .arg(v.originY + hPx * v.cellsPerPixelY)
                            .arg(a->matrix.rows)));
  }

  // The dark theme draws masked cells dark on screen (they were light grey in both themes).
  void darkThemeMasksDark() {
    m_w->setTheme(ui::Theme::Dark);
    const QColor want = ui::themeColors(ui::Theme::Dark).heatmapMask;
    // The views follow the application palette's change event (delivered by the event loop).
    const auto& st = map()->heatmapWindow()->style();
    QTRY_COMPARE(int(std::lround(st.maskRgb[0] * 255)), want.red());
    QTRY_COMPARE(int(std::lround(grid()->heatmapWindow()->style().maskRgb[0] * 255)), want.red());
    vis::HeatmapWindow* hw = map()->heatmapWindow();
    const QImage img = grabFrame(hw);
    const vis::HeatmapView& v = hw->view();
    const int cols = m_w->heatmapView()->matrix()->cols;
    // Cell (row 0, last key): masked.
    const int x = int(((cols - 0.5) - v.originX) / v.cellsPerPixelX);
    const int y = int((0.5 - v.originY) / v.cellsPerPixelY);
    const QColor c = img.pixelColor(x, y);
    QVERIFY2(c.lightnessF() < 0.3, qPrintable(c.name()));
    m_w->setTheme(ui::Theme::Light);
    QTRY_VERIFY(map()->heatmapWindow()->style().maskRgb[0] > 0.5f);
    const QColor c2 = grabFrame(hw).pixelColor(x, y);
    QVERIFY2(c2.lightnessF() > 0.6, qPrintable(c2.name()));
  }
};

QTEST_MAIN(TstHeatmapLegible)
#include "tst_heatmap_legible.moc"
