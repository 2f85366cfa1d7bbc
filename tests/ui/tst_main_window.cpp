// Widget tests driving the real main window (offscreen QPA, no Vulkan: the heatmaps show their
// "unavailable" note, everything else is live): load a fixture, type into the prompt, and check
// the panels against values computed here from an independent Session; rapid random edits end in
// the state a fresh run gives; a corrupt file leaves the previous model usable; linked selection,
// shortcuts, routing edits, steering, themes and the saved layout.
#include "runtime/analysis/lens.h"
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
#include "ui/prompt_panel.h"
#include "ui/prompt_text.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/steering_panel.h"
#include "visualizers/qt/token_label.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDropEvent>
#include <QFile>
#include <QLineEdit>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QRandomGenerator>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>

#include <QUrl>
#include "ui_wait.h"

#include <cmath>
#include <memory>
#include <numeric>

using namespace ll;

namespace {

using uitest::modelPath;

std::vector<double> graphValues(QCPGraph* g) {
  std::vector<double> v;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) v.push_back(it->value);
  return v;
}

// Output entropy from raw logits, in double: the reference for the plot.
std::vector<double> entropyFromLogits(const rt::Trace& tr) {
  std::vector<double> out;
  for (int t = 0; t < tr.nTokens; ++t) {
    const float* row = tr.logitsRow(t);
    double mx = row[0];
    for (int i = 1; i < tr.nVocab; ++i) mx = std::max(mx, double(row[i]));
    double z = 0.0, s = 0.0;
    for (int i = 0; i < tr.nVocab; ++i) z += std::exp(double(row[i]) - mx);
    for (int i = 0; i < tr.nVocab; ++i) {
      const double p = std::exp(double(row[i]) - mx) / z;
      if (p > 0) s -= p * std::log(p);
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace

class TstMainWindow : public QObject {
  Q_OBJECT

  std::unique_ptr<ui::MainWindow> m_w;
  QString m_model;

  // Waits until the window shows a complete snapshot of `prompt` and nothing is queued.
  bool waitSettled(const QString& prompt, int timeoutMs = 30000) {
    return uitest::waitSettled(m_w.get(), timeoutMs, prompt);
  }

  void typePrompt(const QString& text) {
    QPlainTextEdit* e = m_w->promptEditor();
    e->setFocus();
    e->clear();
    QTest::keyClicks(e, text);
  }

  std::shared_ptr<const rt::Trace> freshRun(const QString& model, const QString& prompt,
                                            const rt::Interventions& iv = {}) {
    rt::Session s;
    s.load(model.toStdString());
    s.setPrompt(prompt.toStdString());
    rt::RunRequest req;
    req.interventions = iv;
    return s.run(req);
  }

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_main_window"));
    QSettings().clear();
    m_model = modelPath("stories260K.gguf");
    if (m_model.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->resize(1400, 900);
    m_w->show();
    QVERIFY(m_w->showingTestPattern());
    QVERIFY(m_w->modelPanel()->cardText().contains(QStringLiteral("No model loaded")));
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(m_model);
    QVERIFY(loaded.wait(30000));
    QVERIFY(!m_w->showingTestPattern());
    QVERIFY(m_w->modelPanel()->cardText().contains(QStringLiteral("llama")));
  }

  void typingUpdatesEntropyAndAttention() {
    const QString prompt = QStringLiteral("Once upon a time, there was a little girl");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    const auto tr = freshRun(m_model, prompt);
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(s->nTokens, tr->nTokens);
    // Output entropy plot == entropy of the independent run's logits.
    const auto plotted = graphValues(m_w->entropyPanel()->outputPlot()->plot()->graph(0));
    const auto expected = entropyFromLogits(*tr);
    QCOMPARE(plotted.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      QVERIFY2(
          std::abs(plotted[i] - expected[i]) < 1e-3,
          qPrintable(QStringLiteral("token %1: %2 vs %3").arg(i).arg(plotted[i]).arg(expected[i])));
    // Lens entropy plot == the logit lens of the independent trace for the last token.
    rt::Session ref;
    ref.load(m_model.toStdString());
    rt::ana::LensOptions opt;
    opt.tokens = {tr->nTokens - 1};
    opt.mid = false;
    const auto lens = rt::ana::logitLens(ref.engine(), *tr, opt);
    const auto lensPlotted = graphValues(m_w->entropyPanel()->lensPlot()->graph(0));
    QCOMPARE(lensPlotted.size(), lens.entropy.size());
    for (size_t i = 0; i < lens.entropy.size(); ++i)
      QVERIFY(std::abs(lensPlotted[i] - lens.entropy[i]) < 1e-3);
    // The attention matrix shown == Session::attentionMap of the independent trace (mean).
    const auto map = ref.attentionMap(*tr, s->layer, -1);
    QCOMPARE(s->attention->values.size(), map.size());
    for (size_t i = 0; i < map.size(); ++i)
      QVERIFY(std::abs(s->attention->values[i] - map[i]) < 1e-4);
    // The top next token equals the argmax of the last logits.
    const float* last = tr->logitsRow(tr->nTokens - 1);
    const int arg = int(std::max_element(last, last + tr->nVocab) - last);
    QCOMPARE(s->topNext.front().first, vis::tokenLabel(ref.model().tokenizer->piece(arg)));
    // The output panel shares a tab group with the model card: brought to the front, it
    // catches up with the shown snapshot.
    m_w->dock("output")->raise();
    QVERIFY(!m_w->outputPanel()->continuation().isEmpty());
  }

  void overlayKeptSetEqualsAnalysis() {
    const QString prompt = QStringLiteral("The cat sat on the mat and the dog sat on the log");
    m_w->selectionPanel()->kSlider()->setValue(5);
    for (int method : {0, 2}) {  // GemFilter, H2O
      m_w->selectionPanel()->methodBox()->setCurrentIndex(method);
      typePrompt(prompt);
      QVERIFY(waitSettled(prompt));
      const ui::SnapshotPtr s = m_w->shownSnapshot();
      const auto tr = freshRun(m_model, prompt);
      std::vector<int> expected;
      if (method == 0) {
        expected = rt::ana::gemFilter(rt::ana::qkView(*tr, s->layer), 5).kept;
      } else {
        const int recent = 2;  // k / 2 clamped to [1, 32]
        expected =
            rt::ana::h2o(tr->layers[s->layer].colSum, tr->nTokens, tr->nHead, 5 - recent, recent)
                .kept;
      }
      QCOMPARE(s->kept, expected);
      // On the text: every kept token that has characters (BOS has none).
      std::vector<int> onText;
      for (int k : expected)
        if (s->charSpans[k].first >= 0 && s->charSpans[k].second > s->charSpans[k].first)
          onText.push_back(k);
      QCOMPARE(m_w->promptPanel()->drawnKept(), onText);
      QVERIFY(onText.size() + 1 >= expected.size());
      m_w->dock("selection")->raise();  // behind the entropy tab: updated when in view
      QVERIFY(!m_w->selectionPanel()->answerFull().isEmpty());
      m_w->dock("entropy")->raise();
    }
    m_w->selectionPanel()->methodBox()->setCurrentIndex(0);
  }

  void linkedSelectionAndShortcuts() {
    const QString prompt = QStringLiteral("Lily and Ben went to the park");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    ui::SelectionModel* sel = m_w->selection();
    sel->setLayer(0);
    sel->setHead(ui::SelectionModel::kHeadMean);
    QVERIFY(waitSettled(prompt));
    m_w->activateWindow();
    QTest::keyClick(m_w.get(), Qt::Key_Down, Qt::ControlModifier);
    QCOMPARE(sel->layer(), 1);
    QTest::keyClick(m_w.get(), Qt::Key_Right, Qt::ControlModifier);
    QCOMPARE(sel->head(), 0);
    sel->setToken(2);
    QVERIFY(waitSettled(prompt));
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(s->layer, 1);
    QCOMPARE(s->head, 0);
    QCOMPARE(s->token, 2);
    // Every panel follows: the lens is for token 2, the query row is row 2 of head 0, layer 1.
    const auto tr = freshRun(m_model, prompt);
    rt::Session ref;
    ref.load(m_model.toStdString());
    const auto map = ref.attentionMap(*tr, 1, 0);
    const int T = tr->nTokens;
    for (int j = 0; j < T; ++j) QVERIFY(std::abs(s->queryRow[j] - map[2 * T + j]) < 1e-4);
    rt::ana::LensOptions opt;
    opt.tokens = {2};
    opt.mid = false;
    const auto lens = rt::ana::logitLens(ref.engine(), *tr, opt);
    const auto plotted = graphValues(m_w->entropyPanel()->lensPlot()->graph(0));
    for (size_t i = 0; i < lens.entropy.size(); ++i)
      QVERIFY(std::abs(plotted[i] - lens.entropy[i]) < 1e-3);
    // A click on the output-entropy plot selects a token (the plot emits plottableClick).
    QCustomPlot* out = m_w->entropyPanel()->outputPlot()->plot();
    emit out->plottableClick(out->graph(0), 4, nullptr);
    QCOMPARE(sel->token(), 4);
    sel->setToken(-1);
    sel->setHead(ui::SelectionModel::kHeadMean);
    sel->setLayer(0);
    QVERIFY(waitSettled(prompt));
  }

  void rapidRandomEdits() {
    QPlainTextEdit* e = m_w->promptEditor();
    e->setFocus();
    QRandomGenerator rng(1234);
    const QString alphabet = QStringLiteral("abcdefghijklmnopqrstuvwxyz      .,'");
    for (int i = 0; i < 500; ++i) {
      const int r = int(rng.bounded(100));
      if (r < 60)
        QTest::keyClick(e, alphabet[int(rng.bounded(alphabet.size()))].toLatin1());
      else if (r < 80)
        QTest::keyClick(e, Qt::Key_Backspace);
      else if (r < 90)
        QTest::keyClick(e, Qt::Key_Left);
      else if (r < 95)
        QTest::keyClick(e, Qt::Key_End);
      else
        QTest::keyClick(e, Qt::Key_Home);
      // Mostly faster than the debounce, sometimes slow enough for a run to start and be cut.
      if (i % 20 == 19) QTest::qWait(int(rng.bounded(260)));
    }
    const QString final = e->toPlainText();
    QVERIFY(waitSettled(final, 60000));
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    const auto tr = freshRun(m_model, final);
    QCOMPARE(s->trace->ids, tr->ids);
    QCOMPARE(s->trace->logits.size(), tr->logits.size());
    for (size_t i = 0; i < tr->logits.size(); ++i)
      QVERIFY2(std::abs(s->trace->logits[i] - tr->logits[i]) < 1e-3,
               qPrintable(QString::number(i)));
    const auto plotted = graphValues(m_w->entropyPanel()->outputPlot()->plot()->graph(0));
    const auto expected = entropyFromLogits(*tr);
    QCOMPARE(plotted.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) QVERIFY(std::abs(plotted[i] - expected[i]) < 1e-3);
  }

  void corruptFileKeepsPreviousModel() {
    QTemporaryDir dir;
    const QString bad = dir.filePath(QStringLiteral("broken.gguf"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QByteArray junk("GGUF");
    junk.append(QByteArray(3, '\x03'));
    junk.append(QByteArray(200, '\xff'));
    f.write(junk);
    f.close();
    QSignalSpy failed(m_w->controller(), &ui::SessionController::loadFailed);
    // Dropped on the window (the drop handler's path; a synthetic QDropEvent needs a drag).
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(bad)});
    QVERIFY(m_w->openDropped(&mime));
    QVERIFY(failed.wait(30000));
    QVERIFY(m_w->modelPanel()->errorText().contains(QStringLiteral("broken.gguf")));
    QVERIFY(m_w->controller()->hasModel());
    QCOMPARE(m_w->controller()->modelInfo().path, m_model);
    const QString prompt = QStringLiteral("Still working after a bad file");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    QVERIFY(m_w->shownSnapshot()->nTokens > 3);
  }

  void routingEditsChangeTheOutput() {
    const QString moe = modelPath("stories260K-moe4.gguf");
    if (moe.isEmpty()) QSKIP("stories260K-moe4.gguf not found");
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(moe);
    QVERIFY(loaded.wait(30000));
    const QString prompt = QStringLiteral("Once upon a time");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(s->routing.size(), size_t(s->nLayer) * s->nTokens * s->nExpert);
    for (int l = 0; l < s->nLayer; ++l) {
      double sum = 0;
      for (int e = 0; e < s->nExpert; ++e) sum += s->load[size_t(l) * s->nExpert + e];
      QVERIFY(std::abs(sum - 2.0) < 1e-4);  // top-2: load sums to k
    }
    // Ban expert 0 in every layer: it gets no probability, and the output equals a fresh run
    // with the same edits.
    m_w->routingPanel()->layersBox()->setCurrentIndex(1);
    m_w->routingPanel()->setExpertEdit(0, 0.0, 2);
    QTRY_VERIFY_WITH_TIMEOUT(
        m_w->shownSnapshot() && !m_w->shownSnapshot()->state.routerEdits.empty(), 20000);
    QVERIFY(waitSettled(prompt));
    s = m_w->shownSnapshot();
    for (int l = 0; l < s->nLayer; ++l)
      for (int t = 0; t < s->nTokens; ++t)
        QCOMPARE(s->routing[(size_t(l) * s->nTokens + t) * s->nExpert + 0], 0.0f);
    rt::Interventions iv;
    for (int l = 0; l < s->nLayer; ++l) iv.router.push_back({l, 0, rt::RouterEditKind::Ban, 0.0f});
    const auto tr = freshRun(moe, prompt, iv);
    const float* last = tr->logitsRow(tr->nTokens - 1);
    const float* shown = s->trace->logitsRow(tr->nTokens - 1);
    for (int i = 0; i < tr->nVocab; ++i) QVERIFY(std::abs(last[i] - shown[i]) < 1e-3);
    m_w->routingPanel()->setExpertEdit(0, 0.0, 0);
    // Back to the dense model for the remaining tests.
    m_w->openModel(m_model);
    QVERIFY(loaded.wait(30000));
  }

  void steeringSideBySide() {
    const QString prompt = QStringLiteral("One day, Tom found a");
    typePrompt(prompt);
    m_w->steeringPanel()->conceptEdit()->setText(QStringLiteral("happy"));
    m_w->steeringPanel()->baselineEdit()->setText(QStringLiteral("table, tree"));
    m_w->steeringPanel()->alphaSlider()->setValue(80);
    m_w->steeringPanel()->enabledBox()->setChecked(true);
    QVERIFY(waitSettled(prompt));
    m_w->dock("steering")->raise();
    QVERIFY2(m_w->steeringPanel()->readout().contains(QStringLiteral("mean ||h||")),
             qPrintable(m_w->steeringPanel()->readout()));
    QVERIFY(!m_w->steeringPanel()->steeredText().isEmpty());
    // Without the vector: the greedy continuation of a fresh session.
    rt::Session ref;
    ref.load(m_model.toStdString());
    ref.setPrompt(prompt.toStdString());
    std::vector<int32_t> pos(ref.promptIds().size());
    std::iota(pos.begin(), pos.end(), 0);
    const auto plain = rt::ana::greedy(
        ref, ref.promptIds(), pos, [](int) { return rt::Interventions{}; }, 16);
    QCOMPARE(m_w->steeringPanel()->plainText().toStdString(), ref.model().tokenizer->decode(plain));
    QVERIFY(m_w->steeringPanel()->steeredText() != m_w->steeringPanel()->plainText());
    m_w->steeringPanel()->enabledBox()->setChecked(false);
    m_w->dock("entropy")->raise();
  }

  // A panel behind another dock's tab is not redrawn on each keystroke; brought to the front it
  // shows the snapshot the window shows.
  void panelsOutOfViewCatchUp() {
    m_w->dock("entropy")->raise();
    const QString prompt = QStringLiteral("Lily had a red ball and a blue kite");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    QCOMPARE(m_w->entropyPanel()->snapshot()->generation, m_w->shownSnapshot()->generation);
    QVERIFY(m_w->selectionPanel()->snapshot() != m_w->shownSnapshot());
    QVERIFY(m_w->selectionPanel()->snapshot() == nullptr ||
            m_w->selectionPanel()->snapshot()->state.prompt != prompt.toStdString());
    m_w->dock("selection")->raise();
    QCOMPARE(m_w->selectionPanel()->snapshot(), m_w->shownSnapshot());
    QCOMPARE(m_w->selectionPanel()->answerFull(), m_w->shownSnapshot()->answerFull);
    m_w->dock("entropy")->raise();
  }

  // The first edit after a quiet spell runs at once; edits inside the debounce interval wait
  // for the typing to pause.
  void firstEditRunsAtOnceBurstsWait() {
    const QString prompt = QStringLiteral("Tom saw a bird");
    typePrompt(prompt);
    QVERIFY(waitSettled(prompt));
    m_w->setDebounceMs(60000);
    QTRY_VERIFY_WITH_TIMEOUT(!m_w->debouncePending(), 70000);  // typePrompt's own burst is over
    QPlainTextEdit* e = m_w->promptEditor();
    e->moveCursor(QTextCursor::End);
    QTest::keyClick(e, 's');
    QVERIFY(m_w->debouncePending());
    QVERIFY(waitSettled(prompt + "s", 20000));  // long before the 60 s timer
    QTest::keyClick(e, 'x');  // inside the interval: no run until the typing pauses
    QTest::qWait(500);
    QCOMPARE(QString::fromStdString(m_w->shownSnapshot()->state.prompt), prompt + "s");
    QVERIFY(m_w->debouncePending());
    m_w->setDebounceMs(150);
    QTest::keyClick(e, Qt::Key_Backspace);  // restarts the (now short) timer
    QTRY_VERIFY_WITH_TIMEOUT(!m_w->debouncePending(), 5000);
    QVERIFY(waitSettled(prompt + "s", 20000));
  }

  void themesAndSavedLayout() {
    m_w->setTheme(ui::Theme::Dark);
    QVERIFY(QApplication::palette().color(QPalette::Window).lightness() < 100);
    m_w->setTheme(ui::Theme::Light);
    QVERIFY(QApplication::palette().color(QPalette::Window).lightness() > 150);
    m_w->dock(QStringLiteral("steering"))->setVisible(false);
    m_w->close();
    m_w.reset();
    ui::MainWindow again(nullptr, nullptr, 2);
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QVERIFY(!again.dock(QStringLiteral("steering"))->isVisible());
    QVERIFY(again.dock(QStringLiteral("entropy"))->isVisible());
    QVERIFY(again.showingTestPattern());
    QSettings().clear();
  }
};

QTEST_MAIN(TstMainWindow)
#include "tst_main_window.moc"
