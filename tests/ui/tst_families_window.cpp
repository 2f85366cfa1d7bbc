// The main window on each new family (offscreen QPA, no Vulkan: the heatmaps show their note, the
// data behind them is checked): the fixtures open one after the other, MoE and dense alternating,
// on the same prompt, and every panel shows that model's data, compared with an independent
// Session (so nothing of the previous model can pass): model card, attention map and query row,
// head grid, induction table, logit lens and output entropy, token selection (with the
// sliding-window warning in the panel and the status bar), routing (MoE) or nothing routed
// (dense), top next tokens and continuation, steering.
#include "runtime/analysis/lens.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/attention_panel.h"
#include "ui/entropy_panel.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/output_panel.h"
#include "ui/plot_panel.h"
#include "ui/prompt_text.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/steering_panel.h"
#include "visualizers/head_grid.h"
#include "visualizers/qt/head_grid_view.h"
#include "visualizers/qt/routing_view.h"
#include "visualizers/qt/token_label.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QDockWidget>
#include <QFile>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QStatusBar>
#include <QTableWidget>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>
#include <numeric>

using namespace ll;

namespace {

QString modelPath(const QString& name) {
  const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
  const QString p = QString::fromLocal8Bit(dir) + QStringLiteral("/models/") + name;
  return !dir.isEmpty() && QFile::exists(p) ? p : QString();
}

std::vector<double> graphValues(QCPGraph* g) {
  std::vector<double> v;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) v.push_back(it->value);
  return v;
}

std::vector<double> barValues(QCustomPlot* p) {
  std::vector<double> v;
  for (int i = 0; i < p->plottableCount(); ++i)
    if (auto* bars = qobject_cast<QCPBars*>(p->plottable(i)))
      for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
        v.push_back(it->value);
  return v;
}

double entropyOf(const float* row, int n) {
  double mx = row[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, double(row[i]));
  double z = 0.0, s = 0.0;
  for (int i = 0; i < n; ++i) z += std::exp(double(row[i]) - mx);
  for (int i = 0; i < n; ++i) {
    const double p = std::exp(double(row[i]) - mx) / z;
    if (p > 0) s -= p * std::log(p);
  }
  return s;
}

}  // namespace

class TstFamiliesWindow : public QObject {
  Q_OBJECT

  std::unique_ptr<ui::MainWindow> m_w;
  const QString m_prompt =
      QStringLiteral("Once upon a time, Lily and Ben went to the park with a big red ball");

  bool waitSettled(int timeoutMs = 60000) {
    return uitest::waitSettled(m_w.get(), timeoutMs, m_prompt);
  }

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_families_window"));
    QSettings().clear();
    if (modelPath(QStringLiteral("qwen3-tiny.gguf")).isEmpty())
      QSKIP("the family fixtures were not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->resize(1400, 900);
    m_w->show();
  }

  void everyPanelFollowsTheModel_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("arch");
    // MoE and dense alternate: routing must appear and disappear with the model.
    QTest::newRow("qwen3moe") << "qwen3moe-tiny.gguf"
                              << "qwen3moe";
    QTest::newRow("qwen3") << "qwen3-tiny.gguf"
                           << "qwen3";
    QTest::newRow("gemma2") << "gemma2-tiny.gguf"
                            << "gemma2";
    QTest::newRow("gpt-oss") << "gpt-oss-tiny.gguf"
                             << "gpt-oss";
    QTest::newRow("gemma3") << "gemma3-tiny.gguf"
                            << "gemma3";
    QTest::newRow("phi3") << "phi3-tiny.gguf"
                          << "phi3";
  }

  void everyPanelFollowsTheModel() {
    QFETCH(QString, file);
    QFETCH(QString, arch);
    const QString path = modelPath(file);
    QVERIFY(!path.isEmpty());
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(path);
    QVERIFY(loaded.wait(60000));
    if (m_w->promptEditor()->toPlainText() != m_prompt) m_w->setPrompt(m_prompt);
    m_w->selection()->setLayer(0);
    QVERIFY(waitSettled());

    rt::Session ref;
    ref.load(path.toStdString());
    ref.setPrompt(m_prompt.toStdString());
    const auto tr = ref.run();
    const rt::ModelSpec& sp = ref.model().spec;
    const int T = tr->nTokens, L = tr->nLayer, H = tr->nHead, V = tr->nVocab;
    QVERIFY(T > sp.window);

    // Model card: the family and its attention features.
    const QString card = m_w->modelPanel()->cardText();
    QVERIFY2(card.contains(arch), qPrintable(card));
    QCOMPARE(card.contains(QStringLiteral("sliding window on")), sp.window > 0);
    QCOMPARE(card.contains(QStringLiteral("attention sinks")), sp.attnSinks);
    QCOMPARE(card.contains(QStringLiteral("soft-cap")), sp.finalSoftcap > 0);

    ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(s->trace->ids, tr->ids);
    QCOMPARE(s->nLayer, L);
    QCOMPARE(s->nHead, H);
    for (size_t i = 0; i < tr->logits.size(); ++i)
      QVERIFY2(std::abs(s->trace->logits[i] - tr->logits[i]) < 1e-3, qPrintable(file));

    // Attention: the map of layer 0 (mean over heads) with its window, the query row, the head
    // grid of every layer and head, the induction table of this model.
    m_w->dock(QStringLiteral("attention"))->raise();
    ui::AttentionPanel* ap = m_w->attentionPanel();
    QCOMPARE(ap->snapshot()->generation, s->generation);
    const auto map = ref.attentionMap(*tr, 0, -1);
    QCOMPARE(s->attention->values.size(), map.size());
    for (size_t i = 0; i < map.size(); ++i)
      QVERIFY(std::abs(s->attention->values[i] - map[i]) < 1e-4);
    QCOMPARE(s->attention->maskWindow, sp.layerWindow(0));
    QCOMPARE(ap->captionText().contains(QStringLiteral("sliding window 8")),
             sp.layerWindow(0) == 8);
    const auto row = barValues(ap->queryRowPlot());
    QCOMPARE(row.size(), size_t(T));
    for (int j = 0; j < T; ++j) QVERIFY(std::abs(row[j] - map[size_t(T - 1) * T + j]) < 1e-4);
    const vis::HeadGridAtlas* atlas = ap->headGrid()->atlas();
    QVERIFY(atlas);
    QCOMPARE(atlas->nLayer, L);
    QCOMPARE(atlas->nHead, H);
    QCOMPARE(atlas->nTokens, s->gridTokens);
    QCOMPARE(s->headGrid.size(), size_t(L) * H * s->gridTokens * s->gridTokens);
    QCOMPARE(ap->inductionTable()->rowCount(), L);
    QCOMPARE(ap->inductionTable()->columnCount(), H);
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        // The stripe is kept inside the fixtures' window of 8: every layer has a score.
        const QTableWidgetItem* it = ap->inductionTable()->item(l, h);
        QVERIFY(it);
        bool ok = false;
        const double v = it->text().toDouble(&ok);
        QVERIFY2(ok && v >= 0 && v <= 1, qPrintable(it->text()));
      }
    QCOMPARE(ap->inductionTable()->toolTip().contains(QStringLiteral("x = 8 random")),
             sp.window == 8);

    // Entropy: the lens of the last token and the output entropy of this model.
    m_w->dock(QStringLiteral("entropy"))->raise();
    QCOMPARE(m_w->entropyPanel()->snapshot()->generation, s->generation);
    rt::ana::LensOptions opt;
    opt.tokens = {T - 1};
    opt.mid = false;
    const auto lens = rt::ana::logitLens(ref.engine(), *tr, opt);
    const auto lensPlotted = graphValues(m_w->entropyPanel()->lensPlot()->graph(0));
    QCOMPARE(lensPlotted.size(), size_t(L + 1));
    for (int i = 0; i <= L; ++i) QVERIFY(std::abs(lensPlotted[i] - lens.entropy[i]) < 1e-3);
    const auto out = graphValues(m_w->entropyPanel()->outputPlot()->plot()->graph(0));
    QCOMPARE(out.size(), size_t(T));
    for (int t = 0; t < T; ++t) QVERIFY(std::abs(out[t] - entropyOf(tr->logitsRow(t), V)) < 1e-3);

    // Token selection (GemFilter, k 8: below the default 1024, so that it selects) at layer 0,
    // then at a full-attention layer if any: the kept set of this model, and the window warning
    // exactly at a windowed layer.
    m_w->selectionPanel()->kSlider()->setValue(8);
    int full = -1;
    for (int l = 0; l < L && full < 0; ++l)
      if (sp.layerWindow(l) == 0) full = l;
    for (int layer : {0, full}) {
      if (layer < 0) continue;
      m_w->selection()->setLayer(layer);
      QVERIFY(waitSettled());
      QTRY_VERIFY_WITH_TIMEOUT(m_w->shownSnapshot()->layer == layer, 20000);
      QVERIFY(waitSettled());
      s = m_w->shownSnapshot();
      m_w->dock(QStringLiteral("selection"))->raise();
      ui::SelectionPanel* sel = m_w->selectionPanel();
      QCOMPARE(sel->snapshot()->generation, s->generation);
      const auto want = rt::ana::gemFilter(rt::ana::qkView(*tr, layer, T - 1), 8).kept;
      QCOMPARE(s->kept, want);
      QVERIFY(!sel->answerFull().isEmpty());
      const QString warn = sel->warningText();
      const QString status = m_w->statusBar()->currentMessage();
      if (sp.layerWindow(layer) > 0) {
        const QString head =
            QStringLiteral("GemFilter at layer %1 (a sliding-window layer, window %2)")
                .arg(layer)
                .arg(sp.layerWindow(layer));
        QVERIFY2(warn.contains(head), qPrintable(warn));
        QVERIFY2(status.contains(QStringLiteral("token selection: ") + head), qPrintable(status));
      } else {
        QVERIFY2(!warn.contains(QStringLiteral("GemFilter at layer")), qPrintable(warn));
        QVERIFY2(!status.contains(QStringLiteral("token selection: GemFilter")),
                 qPrintable(status));
      }
      // The kept tokens' own answer on a windowed model names the window when they span it.
      const bool spans = want.back() - want.front() >= sp.window;
      QCOMPARE(warn.contains(QStringLiteral("compressed prompt")), sp.window > 0 && spans);
    }
    m_w->selection()->setLayer(0);
    QVERIFY(waitSettled());
    s = m_w->shownSnapshot();

    // Routing: this model's scores and load, or nothing routed on a dense model.
    m_w->dock(QStringLiteral("routing"))->raise();
    ui::RoutingPanel* rp = m_w->routingPanel();
    QCOMPARE(rp->snapshot()->generation, s->generation);
    const auto scores = rp->view()->scores();
    if (sp.nExpert > 0) {
      const int E = sp.nExpert;
      QCOMPARE(scores.nLayer, L);
      QCOMPARE(scores.nTokens, T);
      QCOMPARE(scores.nExpert, E);
      for (int l = 0; l < L; ++l)
        for (int t = 0; t < T; ++t) {
          double sum = 0;
          for (int e = 0; e < E; ++e) {
            const float v = scores.scores[(size_t(l) * T + t) * E + e];
            QVERIFY(std::abs(v - tr->layers[l].routerProbs[size_t(t) * E + e]) < 1e-4);
            sum += v;
          }
          QVERIFY(std::abs(sum - 1.0) < 1e-4);
        }
      const auto load = rt::ana::expertLoad(*tr);
      const auto bars = barValues(rp->loadPlot());
      QCOMPARE(bars.size(), size_t(E));
      for (int e = 0; e < E; ++e) QVERIFY(std::abs(bars[e] - load[e]) < 1e-5);  // layer 0
    } else {
      QVERIFY(scores.scores.empty());
      QCOMPARE(scores.nExpert, 0);
      QVERIFY(barValues(rp->loadPlot()).empty());
    }

    // Output: the top next token and a continuation.
    m_w->dock(QStringLiteral("output"))->raise();
    QCOMPARE(m_w->outputPanel()->snapshot()->generation, s->generation);
    const float* last = tr->logitsRow(T - 1);
    const int arg = int(std::max_element(last, last + V) - last);
    QCOMPARE(m_w->outputPanel()->topTable()->item(0, 0)->text(),
             QStringLiteral("\"%1\"").arg(vis::tokenLabel(ref.model().tokenizer->piece(arg))));
    QVERIFY(!m_w->outputPanel()->continuation().isEmpty());

    // Steering: a concept vector at the default layer changes the continuation; the unsteered
    // one is the plain greedy continuation of this model.
    m_w->steeringPanel()->conceptEdit()->setText(QStringLiteral("happy"));
    m_w->steeringPanel()->baselineEdit()->setText(QStringLiteral("table, tree"));
    m_w->steeringPanel()->alphaSlider()->setValue(80);
    m_w->steeringPanel()->enabledBox()->setChecked(true);
    QTRY_VERIFY_WITH_TIMEOUT(m_w->shownSnapshot()->state.steering.enabled, 20000);
    QVERIFY(waitSettled());
    m_w->dock(QStringLiteral("steering"))->raise();
    QVERIFY2(m_w->steeringPanel()->readout().contains(QStringLiteral("mean ||h||")),
             qPrintable(m_w->steeringPanel()->readout()));
    std::vector<int32_t> pos(ref.promptIds().size());
    std::iota(pos.begin(), pos.end(), 0);
    const auto plain = rt::ana::greedy(
        ref, ref.promptIds(), pos, [](int) { return rt::Interventions{}; }, 16);
    QCOMPARE(m_w->steeringPanel()->plainText(),
             QString::fromStdString(ref.model().tokenizer->decode(plain)));
    QVERIFY(!m_w->steeringPanel()->steeredText().isEmpty());
    m_w->steeringPanel()->enabledBox()->setChecked(false);
    QTRY_VERIFY_WITH_TIMEOUT(!m_w->shownSnapshot()->state.steering.enabled, 20000);
    QVERIFY(waitSettled());
    QVERIFY(m_w->steeringPanel()->steeredText().isEmpty());
    m_w->dock(QStringLiteral("entropy"))->raise();
  }

  void cleanupTestCase() {
    if (m_w) m_w->close();
    m_w.reset();
    QSettings().clear();
  }
};

QTEST_MAIN(TstFamiliesWindow)
#include "tst_families_window.moc"
