// The Logit lens panel (the real main window, offscreen, no Vulkan): its grid against the logit
// lens of the snapshot's trace (rt::ana::logitLens with the panel's options, and one cell by hand
// in double precision from the hidden row, the final norm weight and the LM head), with and
// without the final norm, with the after-attention rows, coloured by entropy, on a window of a
// long prompt, under a knockout and a router edit; the colour bar beside it shows the grid's
// colormap and range for either value and follows the theme; hover lists the top-5, a click selects
// layer and token, token text is literal, a model change clears it. And the grid widget's level of
// detail: labels only where they fit, columns averaged per pixel when narrower than one.
#include "kernels/quant.h"
#include "runtime/analysis/lens.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/attention_panel.h"
#include "ui/export_actions.h"
#include "ui/lens_panel.h"
#include "ui/main_window.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/theme.h"
#include "visualizers/colormap.h"
#include "visualizers/qt/color_bar.h"
#include "visualizers/qt/lens_grid_view.h"
#include "visualizers/qt/token_label.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QScrollBar>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTest>
#include <QToolTip>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

std::vector<float> tensorF32(const rt::Model& m, const std::string& name) {
  const rt::TensorData& t = m.weights.get(name);
  const int64_t rows = t.rows(), cols = t.cols();
  std::vector<float> out(size_t(rows) * cols);
  const size_t rb = kern::rowBytes(t.type, cols);
  for (int64_t r = 0; r < rows; ++r)
    kern::dequantizeRow(t.type, t.data + size_t(r) * rb, out.data() + size_t(r) * cols, cols);
  return out;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

// Every cell of the grid against the lens of the same trace computed here (rows in the grid's
// display order: embeddings, [L attn,] L ...). "" when all agree, else the first difference.
QString compareWithLens(const ui::LensGrid& g, const rt::ana::LensResult& r) {
  const int K = g.topK;
  for (int row = 0; row < g.rowCount(); ++row) {
    const ui::LensGridRow d = g.rows[size_t(row)];
    for (int c = 0; c < g.cols; ++c) {
      const size_t src = d.mid ? size_t(d.layer) * g.cols + c : size_t(d.layer + 1) * g.cols + c;
      const float h = d.mid ? r.midEntropy[src] : r.entropy[src];
      const auto& ids = d.mid ? r.midTopIds : r.topIds;
      const auto& probs = d.mid ? r.midTopProbs : r.topProbs;
      const size_t at = g.at(row, c);
      const QString where = g.rowLabel(row) + " column " + QString::number(c) + ": ";
      if (std::fabs(g.entropy[at] - h) > 1e-4f) return where + "entropy";
      if (std::fabs(g.prob[at] - probs[src * K]) > 1e-5f) return where + "probability";
      for (int k = 0; k < K; ++k)
        if (g.topIds[at * K + k] != ids[src * K + k]) return where + "top-k ids";
    }
  }
  return {};
}

}  // namespace

class TstLensGrid : public QObject {
  Q_OBJECT
  QString m_stories;
  std::unique_ptr<ui::MainWindow> m_w;
  rt::Session m_ref;  // the same model in a session of the test's own (LM head, weights)
  const QString m_prompt = QStringLiteral("Once upon a time there was a little girl named Lily.");

  ui::LensPanel* panel() const { return m_w->lensPanel(); }
  ui::SnapshotPtr snap() const { return m_w->shownSnapshot(); }
  rt::ana::LensResult lensOf(const ui::Snapshot& s, const ui::LensGrid& g) {
    rt::ana::LensOptions opt;
    opt.finalNorm = g.finalNorm;
    opt.mid = g.mid;
    opt.topK = g.topK;
    for (int c = 0; c < g.cols; ++c) opt.tokens.push_back(g.first + c);
    return rt::ana::logitLens(m_ref.engine(), *s.trace, opt);
  }
  bool settle() { return uitest::waitSettled(m_w.get()); }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    m_stories = modelPath("stories260K.gguf");
    if (m_stories.isEmpty()) return;
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 1);
    m_w->setDebounceMs(0);
    m_w->resize(1400, 900);
    m_w->show();
    m_w->dock("lens")->raise();
    m_w->setPrompt(m_prompt);
    m_w->openModel(m_stories);
    QVERIFY(settle());
    m_ref.load(m_stories.toStdString(), rt::parseBackend("cpu", 1));
  }

  // Labels are dropped when cells are too small for them, and below a pixel per column the
  // columns are averaged per pixel (a 0/1 checkerboard of columns shows the colour of 0.5).
  void widgetLevelOfDetail() {
    vis::LensGridView v;
    v.resize(640, 240);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    vis::LensGridViewData d;
    d.rows = 4;
    d.cols = 2000;
    for (int r = 0; r < d.rows; ++r) {
      d.rowLabels << "L" + QString::number(r);
      for (int c = 0; c < d.cols; ++c) {
        d.values.push_back(float(c % 2));
        d.cellText << QStringLiteral("<s>");
      }
    }
    for (int c = 0; c < d.cols; ++c) d.colLabels << QString::number(c) + " t";
    v.setData(d);
    v.setCellSize(QSizeF(60, 24));
    v.grab();
    QVERIFY(v.labelsDrawn() > 0);
    QVERIFY(v.labelsDrawn() < 100);  // only the visible cells
    QVERIFY(!v.aggregated());
    // Too narrow for two characters, or too low for a line: no label (not even an ellipsis).
    for (const QSizeF size : {QSizeF(14, 24), QSizeF(6, 24), QSizeF(60, 8)}) {
      v.setCellSize(size);
      v.grab();
      QCOMPARE(v.labelsDrawn(), 0);
      QVERIFY(!v.aggregated());
    }
    v.setCellSize(QSizeF(0.5, 24));
    const QImage img = v.grab().toImage();
    QCOMPARE(v.labelsDrawn(), 0);
    QVERIFY(v.aggregated());
    const QRect cell = v.cellRect(1, 20);  // a pixel column covering columns 20 and 21
    const QColor got =
        img.pixelColor(v.viewport()->mapTo(&v, cell.center()) * img.devicePixelRatio());
    const auto& lut = vis::colormapLut(vis::Colormap::Viridis);
    const int mid = 128;
    QVERIFY2(
        std::abs(got.green() - lut[mid * 4 + 1]) <= 3 && std::abs(got.red() - lut[mid * 4]) <= 3,
        qPrintable(got.name()));
  }

  void gridMatchesTheTrace() {
    if (!m_w) QSKIP("needs LAYERLENS_SHARED_DIR with models/stories260K.gguf");
    const auto s = snap();
    QVERIFY(s->lensGrid && !s->lensGrid->empty());
    const ui::LensGrid& g = *s->lensGrid;
    QCOMPARE(g.first, 0);
    QCOMPARE(g.cols, s->nTokens);
    QCOMPARE(g.rowCount(), s->nLayer + 1);
    QVERIFY(g.finalNorm);
    QCOMPARE(g.topK, 5);
    const auto ref = lensOf(*s, g);
    QCOMPARE(compareWithLens(g, ref), QString());
    // The view shows these values (top-1 probability) and the top-1 token in every cell.
    const auto& d = panel()->view()->data();
    QCOMPARE(d.rows, g.rowCount());
    QCOMPARE(d.cols, g.cols);
    QCOMPARE(d.values, g.prob);
    QCOMPARE(d.cellText[d.cols * 2 + 3],
             vis::tokenLabel(m_ref.model().tokenizer->piece(g.top1(2, 3))));
    QCOMPARE(d.rowLabels.first(), QStringLiteral("emb"));
    QCOMPARE(d.rowLabels.last(), "L" + QString::number(s->nLayer - 1));

    // One cell by hand, in double precision: RMSNorm with output_norm.weight, then the LM head.
    const rt::Model& m = m_ref.model();
    const int dm = m.spec.nEmbd, V = m.spec.nVocab, layer = 2, t = 5;
    const auto normW = tensorF32(m, "output_norm.weight");
    const auto W =
        tensorF32(m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
    const float* x = s->trace->layers[size_t(layer)].resid.data() + size_t(t) * dm;
    double ss = 0;
    for (int i = 0; i < dm; ++i) ss += double(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / dm + m.spec.normEps);
    std::vector<double> z(size_t(V), 0.0);
    int arg = 0;
    for (int v = 0; v < V; ++v) {
      for (int i = 0; i < dm; ++i) z[size_t(v)] += W[size_t(v) * dm + i] * (x[i] * inv * normW[i]);
      if (z[size_t(v)] > z[size_t(arg)]) arg = v;
    }
    double sum = 0, h = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(z[size_t(v)] - z[size_t(arg)]);
    for (int v = 0; v < V; ++v) {
      const double p = std::exp(z[size_t(v)] - z[size_t(arg)]) / sum;
      if (p > 0) h -= p * std::log(p);
    }
    const int row = g.rowOf(layer, false);
    QCOMPARE(g.top1(row, t), arg);
    QVERIFY(std::fabs(g.prob[g.at(row, t)] - 1.0 / sum) < 1e-4);
    QVERIFY(std::fabs(g.entropy[g.at(row, t)] - h) < 1e-3);
  }

  // Token text is literal: the BOS "<s>" stays "<s>" in the column labels and the hover line, and
  // is escaped in the (rich-text) tooltip. Hover lists the top-5 with probabilities.
  void hoverListsTopFiveLiterally() {
    if (!m_w) QSKIP("needs stories260K");
    const auto s = snap();
    const ui::LensGrid& g = *s->lensGrid;
    QCOMPARE(s->tokens.first(), QStringLiteral("<s>"));
    QCOMPARE(panel()->view()->data().colLabels.first(), QStringLiteral("0 <s>"));
    vis::LensGridView* v = panel()->view();
    v->horizontalScrollBar()->setValue(0);
    const int row = g.rowCount() - 1;
    QVERIFY(v->viewport()->rect().contains(v->cellRect(row, 0)));
    QTest::mouseMove(v->viewport(), v->cellRect(row, 0).center());
    QTRY_VERIFY(!panel()->hoverLabel()->text().isEmpty());
    const QString text = panel()->hoverLabel()->text();
    QCOMPARE(panel()->hoverLabel()->textFormat(), Qt::PlainText);
    QVERIFY2(text.contains(QStringLiteral("<s>")), qPrintable(text));
    for (int k = 0; k < 5; ++k) {
      const size_t i = g.at(row, 0) * 5 + size_t(k);
      const QString entry =
          g.label(g.topIds[i]) + " " + QString::number(double(g.topProbs[i]), 'f', 3);
      QVERIFY2(text.contains(entry), qPrintable(text + " lacks " + entry));
    }
    QCOMPARE(text, panel()->cellText(row, 0));
    const QString html = panel()->hoverHtml(row, 0);
    QVERIFY(html.contains(QStringLiteral("&lt;s&gt;")));
    QVERIFY(!html.contains(QStringLiteral("<s>")));
    QTRY_VERIFY(QToolTip::isVisible());
    QVERIFY(QToolTip::text().contains(QStringLiteral("&lt;s&gt;")));
  }

  void clickSelectsLayerAndToken() {
    if (!m_w) QSKIP("needs stories260K");
    vis::LensGridView* v = panel()->view();
    const auto grid = snap()->lensGrid;
    const ui::LensGrid& g = *grid;
    const int row = g.rowOf(1, false), col = 4;
    v->ensureColumnVisible(col);  // the view scrolls to the selected (last) token on its own
    QVERIFY(v->viewport()->rect().contains(v->cellRect(row, col)));
    QTest::mouseClick(v->viewport(), Qt::LeftButton, {}, v->cellRect(row, col).center());
    QCOMPARE(m_w->selection()->layer(), 1);
    QCOMPARE(m_w->selection()->token(), g.first + col);
    QVERIFY(settle());
    QCOMPARE(snap()->token, g.first + col);
    QCOMPARE(v->markedColumn(), col);
    QVERIFY(std::find(v->markedRows().begin(), v->markedRows().end(), row) !=
            v->markedRows().end());
    // The same run: the grid is reused, not projected again.
    QCOMPARE(snap()->lensGrid.get(), &g);
  }

  void finalNormToggleMatchesBupo() {
    if (!m_w) QSKIP("needs stories260K");
    const auto before = snap()->lensGrid;
    panel()->finalNormBox()->setChecked(false);
    QVERIFY(settle());
    const auto s = snap();
    const ui::LensGrid& g = *s->lensGrid;
    QVERIFY(!g.finalNorm);
    QVERIFY(g.prob != before->prob);
    QVERIFY(g.entropy != before->entropy);
    QCOMPARE(compareWithLens(g, lensOf(*s, g)), QString());
    QVERIFY(panel()->rangeLabel()->text().contains(QStringLiteral("no final norm")));
    panel()->finalNormBox()->setChecked(true);
    QVERIFY(settle());
    QVERIFY(maxAbsDiff(snap()->lensGrid->prob, before->prob) < 1e-5);
  }

  void midRowsAndEntropyColouring() {
    if (!m_w) QSKIP("needs stories260K");
    panel()->midBox()->setChecked(true);
    panel()->valueBox()->setCurrentIndex(1);  // entropy
    QVERIFY(settle());
    const auto s = snap();
    const ui::LensGrid& g = *s->lensGrid;
    QCOMPARE(g.rowCount(), 2 * s->nLayer + 1);
    QCOMPARE(g.rowLabel(1), QStringLiteral("L0 attn"));
    QCOMPARE(g.rowLabel(2), QStringLiteral("L0"));
    QCOMPARE(compareWithLens(g, lensOf(*s, g)), QString());
    QCOMPARE(panel()->view()->data().values, g.entropy);
    QCOMPARE(panel()->view()->data().colormap, vis::Colormap::Magma);
    // The selected layer's two rows are marked.
    const auto& marked = panel()->view()->markedRows();
    QCOMPARE(int(marked.size()), 2);
    // File > Export "lens" is this grid: same rows, columns, value; the caption says so.
    const auto f = ui::figureFromSnapshot(*s, "lens", "stories260K.gguf");
    QCOMPARE(f.matrix.rows, g.rowCount());
    QCOMPARE(f.matrix.cols, g.cols);
    QCOMPARE(f.matrix.values, g.entropy);
    QCOMPARE(f.rowLabels.at(1), QStringLiteral("L0 attn"));
    QVERIFY(f.caption.contains(QStringLiteral("entropy")));
    QVERIFY(f.caption.contains(QStringLiteral("final norm")));
    QVERIFY(f.caption.contains(QString::fromUtf8("tokens 0–%1").arg(g.cols - 1)));
    panel()->midBox()->setChecked(false);
    panel()->valueBox()->setCurrentIndex(0);
    QVERIFY(settle());
  }

  // The colour bar beside the grid shows the scale the cells are coloured with, taken from the
  // grid's own data: top-1 probability 0..1 on viridis, entropy 0..the largest entropy of the
  // grid on magma; it changes with the value box and paints in the theme's colours.
  void colorBarShowsGridScale() {
    if (!m_w) QSKIP("needs stories260K");
    auto* bar = panel()->findChild<vis::ColorBar*>();
    QVERIFY(bar);
    QVERIFY(bar->isVisible());
    QVERIFY(bar->geometry().left() >= panel()->view()->geometry().right());  // beside the grid
    const auto expectScale = [&](vis::Colormap colormap, float hi) {
      const vis::LensGridViewData& d = panel()->view()->data();
      QCOMPARE(d.colormap, colormap);
      QCOMPARE(d.hi, hi);
      QVERIFY(bar->hasData());
      QCOMPARE(bar->colormap(), d.colormap);
      QCOMPARE(bar->range().lo, d.lo);
      QCOMPARE(bar->range().hi, d.hi);
      QCOMPARE(bar->kindText(), QStringLiteral("linear"));
      QCOMPARE(bar->lowText(), QStringLiteral("0"));
      QCOMPARE(bar->highText(), QString::number(double(hi), 'g', 3));
    };
    QCOMPARE(panel()->valueBox()->currentIndex(), 0);
    expectScale(vis::Colormap::Viridis, 1.0f);
    panel()->valueBox()->setCurrentIndex(1);  // entropy
    QVERIFY(settle());
    const std::vector<float>& h = snap()->lensGrid->entropy;
    expectScale(vis::Colormap::Magma, *std::max_element(h.begin(), h.end()));
    QVERIFY(bar->range().hi > 0.1f);
    panel()->valueBox()->setCurrentIndex(0);
    QVERIFY(settle());
    expectScale(vis::Colormap::Viridis, 1.0f);

    // The background left of the gradient is the theme's window colour.
    for (ui::Theme theme : {ui::Theme::Dark, ui::Theme::Light}) {
      m_w->setTheme(theme);
      QApplication::processEvents();
      const QImage img = bar->grab().toImage();
      const QColor bg = img.pixelColor(1, img.height() / 2);
      QCOMPARE(bg, bar->palette().color(QPalette::Window));
      QVERIFY2(theme == ui::Theme::Dark ? bg.lightnessF() < 0.3 : bg.lightnessF() > 0.7,
               qPrintable(bg.name()));
    }
  }

  // A prompt longer than the window: at most 128 columns, the page of the selected token; the
  // "from token" box moves the window.
  void longPromptWindow() {
    if (!m_w) QSKIP("needs stories260K");
    QString longPrompt;
    for (int i = 0; i < 16; ++i) longPrompt += m_prompt + QLatin1Char(' ');
    m_w->selection()->setToken(-1);
    m_w->setPrompt(longPrompt);
    QVERIFY(uitest::waitSettled(m_w.get(), 60000, longPrompt));
    QVERIFY(settle());
    auto s = snap();
    const int T = s->nTokens;
    QVERIFY(T > ui::LensGrid::kMaxColumns);
    QCOMPARE(s->lensGrid->cols, ui::LensGrid::kMaxColumns);
    QCOMPARE(s->lensGrid->first, T - ui::LensGrid::kMaxColumns);  // the last page
    QVERIFY(panel()->rangeLabel()->text().contains(QString::number(T - 1)));
    panel()->firstBox()->setValue(3);
    QVERIFY(settle());
    s = snap();
    QCOMPARE(s->lensGrid->first, 3);
    QCOMPARE(compareWithLens(*s->lensGrid, lensOf(*s, *s->lensGrid)), QString());
    QCOMPARE(panel()->view()->data().colLabels.first().section(' ', 0, 0), QStringLiteral("3"));
    panel()->firstBox()->setValue(-1);
    m_w->setPrompt(m_prompt);
    QVERIFY(uitest::waitSettled(m_w.get(), 60000, m_prompt));
    QVERIFY(settle());
  }

  // A knockout changes the trace and the grid with it (the grid is the lens of the knocked-out
  // run, not of the plain one).
  void knockoutChangesTheGrid() {
    if (!m_w) QSKIP("needs stories260K");
    const auto before = snap();
    rt::Knockout ko;
    for (int t = 1; t < before->nTokens; ++t) ko.from.push_back(t);
    ko.to = {0};
    ko.layerBegin = 0;
    ko.layerEnd = before->nLayer;
    m_w->attentionPanel()->applyKnockout(ko);
    emit m_w->attentionPanel()->settingsChanged();
    QVERIFY(settle());
    const auto s = snap();
    QVERIFY(s->state.knockout.has_value());
    QVERIFY(s->trace != before->trace);
    QVERIFY(s->lensGrid->prob != before->lensGrid->prob);
    QCOMPARE(compareWithLens(*s->lensGrid, lensOf(*s, *s->lensGrid)), QString());
    m_w->attentionPanel()->applyKnockout(std::nullopt);
    emit m_w->attentionPanel()->settingsChanged();
    QVERIFY(settle());
    QVERIFY(maxAbsDiff(snap()->lensGrid->prob, before->lensGrid->prob) < 1e-4);
  }

  // Another model: the grid is cleared the moment it loads, then filled with its own lens; a
  // router edit on the MoE model changes the grid as it changes the trace.
  void modelChangeAndRouterEdit() {
    if (!m_w) QSKIP("needs stories260K");
    const QString moe = modelPath("stories260K-moe4.gguf");
    if (moe.isEmpty()) QSKIP("needs stories260K-moe4");
    bool emptyOnLoad = false;
    const auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      emptyOnLoad = panel()->view()->isEmpty() && !panel()->snapshot();
    });
    m_w->openModel(moe);
    QTRY_VERIFY_WITH_TIMEOUT(m_w->controller()->modelInfo().path == moe, 60000);
    QVERIFY(settle());
    disconnect(c);
    QVERIFY(emptyOnLoad);
    rt::Session ref;
    ref.load(moe.toStdString(), rt::parseBackend("cpu", 1));
    const auto lensOn = [&](const ui::Snapshot& s) {
      const ui::LensGrid& g = *s.lensGrid;
      rt::ana::LensOptions opt;
      opt.topK = g.topK;
      opt.mid = g.mid;
      for (int i = 0; i < g.cols; ++i) opt.tokens.push_back(g.first + i);
      return rt::ana::logitLens(ref.engine(), *s.trace, opt);
    };
    const auto before = snap();
    QVERIFY(before->nExpert > 0);
    QCOMPARE(compareWithLens(*before->lensGrid, lensOn(*before)), QString());
    std::vector<rt::RouterEdit> edits;
    for (int l = 0; l < before->nLayer; ++l) edits.push_back({l, 0, rt::RouterEditKind::Ban, 0.0f});
    m_w->routingPanel()->applyState(edits, 0);
    emit m_w->routingPanel()->settingsChanged();
    QVERIFY(settle());
    const auto s = snap();
    QCOMPARE(s->state.routerEdits.size(), edits.size());
    QVERIFY(s->lensGrid->prob != before->lensGrid->prob);
    QCOMPARE(compareWithLens(*s->lensGrid, lensOn(*s)), QString());
  }
};

QTEST_MAIN(TstLensGrid)
#include "tst_lens_grid.moc"
