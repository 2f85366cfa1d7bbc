// Exports through the real window (offscreen, no Vulkan) on the built-in demo model: the logit
// lens grid the panel shows (matrix and figure), every layer x head map at the full prompt
// length (.npy and figure), the residual stream (one layer [T, d], all layers [L, T, d]); each is
// compared with an independent rt::Session run of the same prompt. The panel in front of each
// dock tab group round-trips through Save session / Open session. The token-selection JSON / CSV
// record the k the method ran with and the reason the panel shows for keeping more. With
// stories260K, a 512-token head grid figure is pooled and each pooled cell is the mean of its
// block.
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "runtime/analysis/lens.h"
#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "runtime/api/session_file.h"
#include "runtime/demo/demo_model.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "visualizers/figure/figure_builder.h"

using namespace ll;

namespace {

bool waitSettled(ui::MainWindow* w, int timeoutMs = 60000) {
  return uitest::waitSettled(w, timeoutMs);
}

// Runs exportFullView and waits for its result ("" on success).
QString exportFull(ui::MainWindow* w, const QString& view, const QString& path) {
  QString result = "pending", error;
  if (!ui::exportFullView(
          w, view, path, [&](const QString& e) { result = e; }, &error))
    return "not started: " + error;
  for (int t = 0; t < 120000 && result == "pending"; t += 10) QTest::qWait(10);
  return result;
}

double maxAbsDiff(const std::vector<float>& a, const float* b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

}  // namespace

class TstFullExports : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  QString m_model;
  std::unique_ptr<ui::MainWindow> m_w;
  rt::Session m_ref;  // independent run of the same prompt
  std::shared_ptr<const rt::Trace> m_refTrace;
  const QString m_prompt = "abcdefgh abcdefgh the cat sat";

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_model = m_dir.filePath("demo.gguf");
    rt::demo::writeDemoModel(m_model.toStdString());
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 1);
    m_w->setDebounceMs(0);
    ui::installExportActions(m_w.get());
    m_w->show();
    m_w->setPrompt(m_prompt);
    m_w->openModel(m_model);
    QVERIFY(waitSettled(m_w.get()));
    m_ref.load(m_model.toStdString(), rt::parseBackend("cpu", 1));
    m_ref.setPrompt(m_prompt.toStdString());
    m_refTrace = m_ref.run();
    QCOMPARE(m_refTrace->nTokens, m_w->shownSnapshot()->nTokens);
  }

  // File > Export of "lens" is the Logit lens panel's grid (one computation): the .npy and the
  // figure hold the grid the snapshot carries, which is the logit lens of an independent run.
  void lensMatrixAndFigure() {
    const auto s = m_w->shownSnapshot();
    const int T = s->nTokens, L = s->nLayer;
    QVERIFY(s->lensGrid && !s->lensGrid->empty());
    const ui::LensGrid& g = *s->lensGrid;
    QCOMPARE(g.cols, T);  // a short prompt: every token
    QVERIFY(!ui::needsFullExport("lens", "lens.npy"));
    const QString npy = m_dir.filePath("lens.npy");
    QString error;
    QVERIFY2(ui::exportViewData(*s, "lens", npy, "demo.gguf", &error), qPrintable(error));
    const auto got = rt::readNpyF32(npy.toStdString());
    QCOMPARE(got.shape, (std::vector<int64_t>{L + 1, T}));
    QCOMPARE(got.data, g.prob);  // the panel's default colouring: top-1 probability
    rt::ana::LensOptions opt;
    opt.mid = false;
    const auto ref = rt::ana::logitLens(m_ref.engine(), *m_refTrace, opt);
    for (size_t i = 0; i < got.data.size(); ++i)
      QVERIFY(std::fabs(got.data[i] - ref.topProbs[i * size_t(ref.topK)]) < 1e-3);
    // The selected token's column is the entropy panel's curve.
    for (int r = 0; r <= L; ++r)
      QVERIFY(std::fabs(g.entropy[g.at(r, s->token - g.first)] - s->lensEntropy[size_t(r)]) < 1e-3);
    const QString svg = m_dir.filePath("lens.svg");
    QVERIFY2(vis::exportFigure(ui::figureFromSnapshot(*s, "lens", "demo.gguf"), svg, 1.0, &error),
             qPrintable(error));
    QFile f(svg);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(f.readAll());
    QVERIFY(text.contains("L" + QString::number(L - 1)));
    QVERIFY(text.contains(QString::number(T - 1) + " "));
    QVERIFY(text.contains("Logit lens"));
    QVERIFY(text.contains("final norm"));
  }

  void headGridAtFullLength() {
    const auto s = m_w->shownSnapshot();
    const int T = s->nTokens, L = s->nLayer, H = s->nHead;
    const QString npy = m_dir.filePath("grid.npy");
    QCOMPARE(exportFull(m_w.get(), "headgrid", npy), QString());
    const auto got = rt::readNpyF32(npy.toStdString());
    QCOMPARE(got.shape, (std::vector<int64_t>{L, H, T, T}));
    const size_t TT = size_t(T) * T;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const auto ref = m_ref.attentionMap(*m_refTrace, l, h);
        QVERIFY(maxAbsDiff(ref, got.data.data() + (size_t(l) * H + h) * TT, TT) < 1e-4);
      }
    // The panel's own head grid (last G tokens, computed in the UI's worker) is the same block.
    const int G = s->gridTokens;
    QVERIFY(G > 0 && G <= T);
    double d = 0;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < G; ++i)
          for (int j = 0; j <= i; ++j)
            d = std::max(
                d, double(std::fabs(
                       s->headGrid[((size_t(l) * H + h) * G + i) * G + j] -
                       got.data[(size_t(l) * H + h) * TT + size_t(T - G + i) * T + (T - G + j)])));
    QVERIFY2(d < 1e-4, qPrintable(QString::number(d)));
    // Figure: every tile labelled, real pixels.
    const QString png = m_dir.filePath("grid.png");
    QCOMPARE(exportFull(m_w.get(), "headgrid", png), QString());
    const QImage img(png);
    QVERIFY(img.width() > 300 && img.height() > 200);
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 3)
      for (int x = 0; x < img.width(); x += 3) colours.insert(img.pixel(x, y));
    QVERIFY(colours.size() > 50);
    const QString svg = m_dir.filePath("grid.svg");
    QCOMPARE(exportFull(m_w.get(), "headgrid", svg), QString());
    QFile f(svg);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(f.readAll());
    QVERIFY(text.contains("head " + QString::number(H - 1)));
    QVERIFY(text.contains("layer " + QString::number(L - 1)));
    QVERIFY(text.contains(QString::number(T) + " tokens"));
  }

  void residualStream() {
    const auto s = m_w->shownSnapshot();
    const int T = s->nTokens, L = s->nLayer, d = m_refTrace->nEmbd;
    const QString one = m_dir.filePath("resid.npy");
    QCOMPARE(exportFull(m_w.get(), "residual", one), QString());
    const auto a = rt::readNpyF32(one.toStdString());
    QCOMPARE(a.shape, (std::vector<int64_t>{T, d}));
    QVERIFY(maxAbsDiff(a.data, m_refTrace->layers[size_t(s->layer)].resid.data(), a.data.size()) <
            1e-4);
    const QString all = m_dir.filePath("resids.npy");
    QCOMPARE(exportFull(m_w.get(), "residuals", all), QString());
    const auto b = rt::readNpyF32(all.toStdString());
    QCOMPARE(b.shape, (std::vector<int64_t>{L, T, d}));
    for (int l = 0; l < L; ++l)
      QVERIFY(maxAbsDiff(std::vector<float>(b.data.begin() + ptrdiff_t(l) * T * d,
                                            b.data.begin() + ptrdiff_t(l + 1) * T * d),
                         m_refTrace->layers[size_t(l)].resid.data(), size_t(T) * d) < 1e-4);
    // Residuals are data only; a figure of them is refused with the reason.
    QString err;
    QVERIFY(!ui::exportFullView(m_w.get(), "residual", m_dir.filePath("r.png"), {}, &err));
    QVERIFY(!err.isEmpty());
    QVERIFY(ui::dataViews().contains("residuals"));
  }

  void frontPanelRoundTrip() {
    // Routing goes in front of its tab group (entropy, token selection, routing, steering).
    m_w->dock("routing")->raise();
    QTest::qWait(50);
    QVERIFY(m_w->frontPanels().contains("routing"));
    QVERIFY(!m_w->frontPanels().contains("entropy"));
    const auto doc = m_w->sessionDocument();
    QVERIFY(doc.view.extra.count(ui::MainWindow::kFrontPanelsKey));
    const QString path = m_dir.filePath("front.llsession");
    QString err;
    QVERIFY2(ui::saveSessionFile(m_w.get(), path, &err), qPrintable(err));
    QVERIFY(QString::fromStdString(
                rt::loadSession(path.toStdString()).view.extra.at(ui::MainWindow::kFrontPanelsKey))
                .contains("routing"));

    ui::MainWindow w2(nullptr, nullptr, 1);
    w2.setDebounceMs(0);
    w2.show();
    w2.dock("entropy")->raise();
    QTest::qWait(50);
    QVERIFY(w2.frontPanels().contains("entropy"));
    QVERIFY2(ui::openSessionFile(&w2, path, &err), qPrintable(err));
    QVERIFY(waitSettled(&w2));
    QTest::qWait(50);
    QVERIFY2(w2.frontPanels().contains("routing"), qPrintable(w2.frontPanels().join(",")));
    QVERIFY(!w2.frontPanels().contains("entropy"));
    QCOMPARE(w2.frontPanels(), m_w->frontPanels());
  }

  // A 512-token prompt on stories260K (5 layers x 8 heads): 8 tiles of 512 would pass 4096 cells,
  // so each tile is pooled 2 x 2; a pooled cell is the mean of its block's causal cells.
  void headGridPooledAtLength() {
    const char* env = std::getenv("LAYERLENS_SHARED_DIR");
    const std::string model = std::string(env ? env : "../shared") + "/models/stories260K.gguf";
    if (!QFileInfo::exists(QString::fromStdString(model)))
      QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    rt::Session s;
    s.load(model, rt::parseBackend("cpu", 1));
    std::vector<int32_t> ids(512);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(1 + (i * 37) % 500);
    s.setPromptIds(ids);
    const auto tr = s.run();
    vis::FigureRequest req;
    req.view = "headgrid";
    const auto f = vis::buildFigure(s, *tr, req);
    const int P = 256;
    QCOMPARE(f.matrix.cols, 8 * (P + 1) - 1);
    QCOMPARE(f.matrix.rows, 5 * (P + 1) - 1);
    QVERIFY(f.caption.contains("pooled 2×2"));
    const int l = 3, h = 5, T = 512;
    const auto m = s.attentionMap(*tr, l, h);
    for (int a : {0, 17, 100, 255})
      for (int b : {0, 3, 17, 99, 255}) {
        const float cell =
            f.matrix.values[size_t(l * (P + 1) + a) * f.matrix.cols + h * (P + 1) + b];
        if (b > a) {
          QVERIFY(std::isnan(cell));
          continue;
        }
        double sum = 0;
        int n = 0;
        for (int i = 2 * a; i < 2 * a + 2; ++i)
          for (int j = 2 * b; j < 2 * b + 2 && j <= i; ++j) {
            sum += m[size_t(i) * T + j];
            ++n;
          }
        QVERIFY(std::fabs(cell - sum / n) < 1e-6);
      }
  }

  // SnapKV at k = 1 with an observation window of 3 (the panel's window box) keeps the window
  // (capacity C is at least the window): the export says k = 1 and why more are kept, the sentence
  // the Token selection panel shows; GemFilter keeps k and its export has no reason.
  void selectionExportRecordsKAndReason() {
    m_w->dock("selection")->raise();  // a panel in a hidden tab shows its snapshot when raised
    ui::SelectionPanel* panel = m_w->selectionPanel();
    const int k0 = panel->kSlider()->value();
    panel->methodBox()->setCurrentIndex(int(ui::SelectMethod::SnapKv));
    panel->kSlider()->setValue(1);
    QSpinBox* window = panel->paramBox("window");
    QVERIFY(window && window->isVisibleTo(panel));
    window->setValue(3);
    QVERIFY(waitSettled(m_w.get()));
    ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(s->state.selection.method, ui::SelectMethod::SnapKv);
    QCOMPARE(s->state.selection.window, 3);
    QCOMPARE(s->selectionK, 1);
    const std::string reason = panel->reasonText().toStdString();
    const std::string head = "SnapKV keeps " + std::to_string(s->kept.size()) + " > k = 1: ";
    QVERIFY2(reason.rfind(head, 0) == 0, reason.c_str());
    for (const char* ext : {"json", "csv"}) {
      const QString path = m_dir.filePath(QString("snapkv.") + ext);
      QString err;
      QVERIFY2(ui::exportViewData(*s, "selection", path, "demo.gguf", &err), qPrintable(err));
      QFile f(path);
      QVERIFY(f.open(QIODevice::ReadOnly));
      const QByteArray text = f.readAll();
      const bool json = QString(ext) == "json";
      QVERIFY2(text.contains(json ? "\"k_used\": 1" : "# k_used: 1\n"), text.constData());
      QVERIFY2(text.contains(json ? "\"reason\": \"SnapKV keeps" : "# reason: \"SnapKV keeps"),
               text.constData());
      const auto rec = json ? rt::readSelectionJson(path.toStdString())
                            : rt::readSelectionCsv(path.toStdString());
      QCOMPARE(rec.kUsed, 1);
      QCOMPARE(rec.reason, reason);
      int kept = 0;
      for (const auto& t : rec.tokens) kept += t.kept;
      QCOMPARE(size_t(kept), s->kept.size());
    }

    window->setValue(window->minimum());  // back to auto
    QCOMPARE(panel->state().window, rt::ana::kAuto);
    panel->methodBox()->setCurrentIndex(int(ui::SelectMethod::GemFilter));
    QVERIFY(!window->isVisibleTo(panel));  // GemFilter has no observation window
    panel->kSlider()->setValue(2);
    QVERIFY(waitSettled(m_w.get()));
    s = m_w->shownSnapshot();
    QCOMPARE(s->selectionK, 2);
    QCOMPARE(panel->reasonText(), QString());
    const QString path = m_dir.filePath("gemfilter.csv");
    QString err;
    QVERIFY2(ui::exportViewData(*s, "selection", path, "demo.gguf", &err), qPrintable(err));
    const auto rec = rt::readSelectionCsv(path.toStdString());
    QCOMPARE(rec.kUsed, 2);
    QCOMPARE(rec.reason, std::string());
    panel->kSlider()->setValue(k0);
    QVERIFY(waitSettled(m_w.get()));
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstFullExports)
#include "tst_full_exports.moc"
