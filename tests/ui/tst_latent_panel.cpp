// The Latent language panel in the real main window (offscreen, not shown, so every panel takes
// every snapshot): nothing until both words are given; then its two curves hold exactly what
// rt::ana::latentLanguage gives on the snapshot's trace at the last token, with whole-layer ticks
// and the theme's series colours; a blank word computes nothing; the words go into the session
// document and back; a new model clears the panel at once and its data then belongs to the new
// (MoE) model. The panel fits a narrow dock.
#include "runtime/analysis/latent_language.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/latent_panel.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QFile>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-12 + 1e-6 * std::fabs(b);
}

}  // namespace

class TstLatentPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;

  bool load(const QString& path, int* pointsAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    // Connected after the window's own handler: runs right after it cleared the panels.
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (pointsAtLoad) *pointsAtLoad = m_w->latentPanel()->plot()->graph(0)->data()->size();
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  void setWords(const QString& a, const QString& b) {
    auto* p = m_w->latentPanel();
    p->wordAEdit()->setText(a);
    p->wordBEdit()->setText(b);
    emit p->wordBEdit()->editingFinished();
  }

  // The panel's curves against the runtime function on the shown snapshot's trace (own Session).
  void compareWithRuntime(const QString& model, const std::string& a, const std::string& b) {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace);
    QVERIFY2(s->latent, qPrintable(s->latentError));
    rt::Session session;
    session.load(model.toStdString(), {"cpu", 2});
    rt::ana::LatentLanguageRequest rq;
    rq.wordA = a;
    rq.wordB = b;
    const auto r =
        rt::ana::latentLanguage(session.engine(), *s->trace, *session.model().tokenizer, rq);
    QCOMPARE(r.position, s->nTokens - 1);
    auto* plot = m_w->latentPanel()->plot();
    const int rows = s->trace->nLayer + 1;
    double sum = 0;
    for (int g = 0; g < 2; ++g) {
      const auto& want = g == 0 ? r.a : r.b;
      QCOMPARE(plot->graph(g)->data()->size(), rows);
      for (int l = 0; l < rows; ++l) {
        QCOMPARE(plot->graph(g)->data()->at(l)->key, double(l));
        QVERIFY2(near(plot->graph(g)->data()->at(l)->value, want[l]),
                 qPrintable(QStringLiteral("graph %1 row %2: %3 vs %4")
                                .arg(g)
                                .arg(l)
                                .arg(plot->graph(g)->data()->at(l)->value)
                                .arg(want[l])));
        sum += want[l];
      }
    }
    QVERIFY(sum > 1e-4);  // a real comparison, not zeros against zeros
    QVERIFY(m_w->latentPanel()->status().contains(QString::fromStdString(a)));
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_latent_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty())
      QSKIP("stories260K.gguf / stories260K-moe4.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(QStringLiteral("Lily and Ben went to the park. They saw a big red ball."));
    QVERIFY(load(m_dense));
    auto* p = m_w->latentPanel();
    QVERIFY(!m_w->shownSnapshot()->latent);  // no words: nothing computed
    QCOMPARE(p->plot()->graph(0)->data()->size(), 0);
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 400,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    setWords(QStringLiteral("Lily"), QStringLiteral("They"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime(m_dense, "Lily", "They");
    // Whole layer ticks and the theme's two series colours.
    auto* ticker = dynamic_cast<QCPAxisTickerFixed*>(p->plot()->xAxis->ticker().data());
    QVERIFY(ticker && ticker->tickStep() == 1.0);
    const ui::Theme t = ui::currentTheme();
    QCOMPARE(p->plot()->graph(0)->pen().color(), ui::seriesColor(ui::PlotSeries::Primary, t));
    QCOMPARE(p->plot()->graph(1)->pen().color(), ui::seriesColor(ui::PlotSeries::Secondary, t));

    // Another prompt: recomputed at its last token.
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little girl named"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime(m_dense, "Lily", "They");

    // A blank word is no word: nothing drawn, the reason shown, no crash.
    setWords(QStringLiteral("Lily"), QStringLiteral(""));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->latent);
    QCOMPARE(p->plot()->graph(0)->data()->size(), 0);
    setWords(QStringLiteral("Lily"), QStringLiteral("park"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime(m_dense, "Lily", "park");
  }

  void sessionKeepsWords() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("latent.word_a"), std::string("Lily"));
    QCOMPARE(doc.view.extra.at("latent.word_b"), std::string("park"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QCOMPARE(v.latent.wordA, std::string("Lily"));
    QCOMPARE(v.latent.wordB, std::string("park"));
    auto* p = m_w->latentPanel();
    p->applyState({"Ben", "ball"});
    QCOMPARE(p->wordAEdit()->text(), QStringLiteral("Ben"));
    ui::ViewState st;
    p->applyTo(st);
    QCOMPARE(st.latent.wordB, std::string("ball"));
    p->applyState(v.latent);
  }

  void newModelClears() {
    int pointsAtLoad = -1;
    QVERIFY(load(m_moe, &pointsAtLoad));
    QCOMPARE(pointsAtLoad, 0);
    compareWithRuntime(m_moe, "Lily", "park");
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstLatentPanel)
#include "tst_latent_panel.moc"
