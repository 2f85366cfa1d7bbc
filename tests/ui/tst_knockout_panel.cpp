// The Knockout effect panel in the real main window (offscreen, not shown): without a knockout it
// says how to set one; with the Attention panel's knockout its effect on the first answer token
// and its layer sweep (window centred on each layer) hold exactly what rt::ana::attentionKnockout
// gives on the same prompt (own Session), streamed after the other panels, following prompt edits;
// the sweep settings go into sessions and back.
#include "runtime/analysis/knockout.h"
#include "runtime/api/session.h"
#include "ui/attention_panel.h"
#include "ui/knockout_panel.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

// Probabilities (a row the engine reuses from its cache and one computed in a batch round
// differently in the last bits) and relative changes in percent (1e-3 points = 1e-5 of p).
bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-6 + 1e-5 * std::fabs(b);
}
bool nearPct(double a, double b) {
  return std::fabs(a - b) <= 1e-3 + 1e-5 * std::fabs(b);
}

}  // namespace

class TstKnockoutPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_model;

  // The knockout from the last token to tokens 1..T-2 in every layer (a window of 2L centred on
  // L/2, as attentionKnockout takes it).
  void setKnockout() {
    const int T = m_w->shownSnapshot()->nTokens, L = m_w->shownSnapshot()->nLayer;
    rt::Knockout k;
    k.from = {T - 1};
    for (int i = 1; i + 1 < T; ++i) k.to.push_back(i);
    k.layerBegin = 0;
    k.layerEnd = L;
    m_w->attentionPanel()->applyKnockout(k);
    emit m_w->attentionPanel()->settingsChanged();
    QVERIFY(uitest::waitSettled(m_w.get()));
  }

  // The panel against attentionKnockout on the shown snapshot's tokens.
  void compareWithRuntime() {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace && s->state.knockout);
    QVERIFY2(s->knockoutEffect, qPrintable(s->knockoutEffectError));
    rt::Session session;
    session.load(m_model.toStdString(), {"cpu", 2});
    session.setPromptIds(s->trace->ids);
    const rt::Knockout& k = *s->state.knockout;
    const int L = s->nLayer;
    const auto want = rt::ana::attentionKnockout(session, k.from, k.to, L / 2, 2 * L);
    QCOMPARE(std::make_pair(want.layerBegin, want.layerEnd), std::make_pair(0, L));
    const auto& got = s->knockoutEffect->effect;
    QCOMPARE(got.answer, want.answer);
    QVERIFY(near(got.pBase, want.pBase));
    QVERIFY(near(got.pNew, want.pNew));
    QVERIFY(nearPct(got.relativeChange, want.relativeChange));
    QVERIFY(std::fabs(want.relativeChange) > 1.0);  // the knockout does something here
    auto* p = m_w->knockoutPanel();
    QVERIFY2(p->summary().contains(QString::number(got.relativeChange, 'f', 2)),
             qPrintable(p->summary()));
    if (!s->state.knockoutReadout.sweep) {
      QCOMPARE(p->plot()->graph(0)->data()->size(), 0);
      return;
    }
    QCOMPARE(p->plot()->graph(0)->data()->size(), L);
    for (int l = 0; l < L; ++l) {
      const auto w =
          rt::ana::attentionKnockout(session, k.from, k.to, l, s->state.knockoutReadout.window);
      QVERIFY(nearPct(p->plot()->graph(0)->data()->at(l)->value, w.relativeChange));
    }
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_knockout_panel"));
    QSettings().clear();
    m_model = uitest::modelPath("stories260K.gguf");
    if (m_model.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little girl named"));
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(m_model);
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    auto* p = m_w->knockoutPanel();
    QVERIFY(!m_w->shownSnapshot()->knockoutEffect);
    QVERIFY2(p->summary().contains(QStringLiteral("No knockout")), qPrintable(p->summary()));
    QVERIFY(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 400);

    QStringList order;
    auto c = connect(m_w->controller(), &ui::SessionController::snapshotStreamed, this,
                     [&](const ui::SnapshotPtr& x) {
                       order << ui::outputName(x->streamed) + (x->complete ? " (complete)" : "");
                     });
    setKnockout();
    disconnect(c);
    QCOMPARE(order.last(), QStringLiteral("knockout effect (complete)"));
    compareWithRuntime();

    p->sweepBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime();
    p->windowBox()->setValue(3);
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime();

    // A prompt edit: the readout follows the new prompt.
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little boy named"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.prompt,
             std::string("Once upon a time there was a little boy named"));
    compareWithRuntime();
  }

  void sessionKeepsTheSweep() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("knockout.sweep"), std::string("1"));
    QCOMPARE(doc.view.extra.at("knockout.window"), std::string("3"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QVERIFY(v.knockoutReadout.sweep);
    QCOMPARE(v.knockoutReadout.window, 3);
    auto* p = m_w->knockoutPanel();
    p->applyState({});
    QVERIFY(!p->sweepBox()->isChecked());
    QCOMPARE(p->windowBox()->value(), 9);
    p->applyState(v.knockoutReadout);
    QVERIFY(p->sweepBox()->isChecked());
    QCOMPARE(p->windowBox()->value(), 3);
  }

  void noKnockoutClears() {
    m_w->attentionPanel()->knockoutBox()->setChecked(false);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->knockoutEffect);
    auto* p = m_w->knockoutPanel();
    QVERIFY2(p->summary().contains(QStringLiteral("No knockout")), qPrintable(p->summary()));
    QCOMPARE(p->plot()->graph(0)->data()->size(), 0);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstKnockoutPanel)
#include "tst_knockout_panel.moc"
