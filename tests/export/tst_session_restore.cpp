// Sessions and demo presets restore every saved field into the real window's panels: the Demos
// menu entries that carry interventions (router ban, knockout, token selection) are opened from
// the menu, their controls are checked, and the run they make is compared with a fresh
// ll::rt::Session run of the same RunRequest; then Save session -> Open session round-trips
// every setting (router edits, knockout, selection, steering, logit-lens grid, layer/head/token)
// through a second window. Offscreen, no Vulkan.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

#include "resources/demos/demo_resources.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/session.h"
#include "runtime/api/session_file.h"
#include "runtime/demo/demo_model.h"
#include "runtime/demo/demo_presets.h"
#include "ui/attention_panel.h"
#include "ui/demo_menu.h"
#include "ui/export_actions.h"
#include "ui/lens_panel.h"
#include "ui/main_window.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "ui/steering_panel.h"

using namespace ll;

namespace {

rt::demo::DemoPreset preset(const QString& id) {
  const QString file = ":/demos/" + id + ".json";
  return rt::demo::parseDemoPreset(demos::embeddedText(file).toStdString(), id.toStdString(),
                                   file.toStdString());
}

std::unique_ptr<ui::MainWindow> newWindow() {
  auto w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 1);
  w->setDebounceMs(0);
  ui::installExportActions(w.get());
  ui::installDemoMenu(w.get(), false, false);
  return w;
}

// Waits until the shown snapshot is complete, computed for what the panels request now, and
// nothing is queued.
bool waitSettled(ui::MainWindow* w, int timeoutMs = 60000) {
  return uitest::waitSettled(w, timeoutMs);
}

QAction* demoAction(ui::MainWindow* w, const QString& title) {
  for (QAction* m : w->menuBar()->actions())
    if (m->menu() && m->text().remove('&') == "Demos")
      for (QAction* a : m->menu()->actions())
        if (a->text() == title) return a;
  return nullptr;
}

// A fresh Session run of the same model, prompt and interventions.
std::shared_ptr<const rt::Trace> freshRun(const QString& model, const std::string& prompt,
                                          const rt::Interventions& iv) {
  rt::Session s;
  s.load(model.toStdString(), rt::parseBackend("cpu", 1));
  s.setPrompt(prompt);
  rt::RunRequest req;
  req.interventions = iv;
  return s.run(req);
}

double maxLogitDiff(const rt::Trace& a, const rt::Trace& b) {
  if (a.nTokens != b.nTokens || a.nVocab != b.nVocab) return INFINITY;
  double d = 0;
  for (int t = 0; t < a.nTokens; ++t)
    for (int v = 0; v < a.nVocab; ++v)
      d = std::max(d, double(std::fabs(a.logitsRow(t)[v] - b.logitsRow(t)[v])));
  return d;
}

}  // namespace

class TstSessionRestore : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  // Opens the preset from the Demos menu; checks the run equals a fresh one with the preset's
  // interventions and differs from one without them (when it has any).
  ui::SnapshotPtr openPreset(ui::MainWindow* w, const rt::demo::DemoPreset& p) {
    QAction* a = demoAction(w, QString::fromStdString(p.title));
    if (!a) return nullptr;
    a->trigger();
    if (!waitSettled(w)) return nullptr;
    return w->shownSnapshot();
  }

  void compareWithFresh(ui::MainWindow* w, const ui::Snapshot& s, const rt::demo::DemoPreset& p) {
    const QString model = w->controller()->modelInfo().path;
    QCOMPARE(s.state.prompt, p.session.prompt);
    const auto fresh = freshRun(model, p.session.prompt, p.session.interventions);
    QVERIFY(s.trace);
    QVERIFY2(maxLogitDiff(*s.trace, *fresh) <= 1e-5,
             qPrintable(QString::number(maxLogitDiff(*s.trace, *fresh))));
    if (p.session.interventions.router.empty() && !p.session.interventions.knockout) return;
    // The intervention has a visible effect: without it the logits differ.
    const auto plain = freshRun(model, p.session.prompt, {});
    QVERIFY2(maxLogitDiff(*s.trace, *plain) > 1e-3,
             "the preset's intervention does not change the run");
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
  }

  void routerBanPreset() {
    const auto p = preset("router-ban");
    QCOMPARE(p.session.interventions.router.size(), size_t(1));
    auto w = newWindow();
    const auto s = openPreset(w.get(), p);
    QVERIFY(s);
    const rt::RouterEdit& ban = p.session.interventions.router.front();
    QCOMPARE(w->selection()->layer(), ban.layer);
    QCOMPARE(w->routingPanel()->layersBox()->currentIndex(), 0);  // "selected layer"
    QVERIFY(w->routingPanel()->expertModeBox(ban.expert));
    QCOMPARE(w->routingPanel()->expertModeBox(ban.expert)->currentIndex(), 2);  // ban
    QCOMPARE(w->routingPanel()->routerEdits(), p.session.interventions.router);
    QCOMPARE(s->state.routerEdits, p.session.interventions.router);
    compareWithFresh(w.get(), *s, p);
  }

  void knockoutPreset() {
    const auto p = preset("knockout-induction");
    QVERIFY(p.session.interventions.knockout);
    auto w = newWindow();
    const auto s = openPreset(w.get(), p);
    QVERIFY(s);
    ui::AttentionPanel* a = w->attentionPanel();
    QVERIFY(a->knockoutBox()->isChecked());
    QCOMPARE(a->knockoutFromEdit()->text(), QString("13-22"));
    QCOMPARE(a->knockoutToEdit()->text(), QString("2-12"));
    QCOMPARE(a->knockoutLayersEdit()->text(), QString("1-1"));
    QCOMPARE(a->knockout(), p.session.interventions.knockout);
    QCOMPARE(s->state.knockout, p.session.interventions.knockout);
    compareWithFresh(w.get(), *s, p);
  }

  void tokenSelectionPreset() {
    const auto p = preset("token-selection");
    auto w = newWindow();
    const auto s = openPreset(w.get(), p);
    QVERIFY(s);
    ui::SelectionPanel* sp = w->selectionPanel();
    QCOMPARE(sp->methodBox()->currentText(), QString("GemFilter"));
    QCOMPARE(sp->kSlider()->value(), p.session.view.k);
    QVERIFY(sp->followBox()->isChecked());
    QCOMPARE(w->selection()->layer(), p.session.view.layer);
    compareWithFresh(w.get(), *s, p);
    // The kept set is GemFilter at the preset's layer and k on the fresh trace.
    const auto fresh =
        freshRun(w->controller()->modelInfo().path, p.session.prompt, p.session.interventions);
    const auto want =
        rt::ana::gemFilter(rt::ana::qkView(*fresh, p.session.view.layer), p.session.view.k);
    QCOMPARE(s->kept, want.kept);
    QVERIFY(int(s->kept.size()) < s->nTokens);  // k = 8 of 17 tokens: a real selection
  }

  void saveOpenRoundTrip() {
    const QString model = m_dir.filePath("demo.gguf");
    rt::demo::writeDemoModel(model.toStdString());
    auto w = newWindow();
    w->setPrompt("abc abc abc 123 xyz");
    w->openModel(model);
    QVERIFY(waitSettled(w.get()));
    // Every panel setting away from its default, through the panels' own widgets.
    w->selection()->setLayer(1);
    w->selection()->setHead(1);
    w->selection()->setToken(3);
    ui::RoutingPanel* r = w->routingPanel();
    QVERIFY(r->expertBiasSlider(1) && r->expertModeBox(2));
    r->expertBiasSlider(1)->setValue(13);
    r->expertModeBox(2)->setCurrentIndex(1);
    r->layersBox()->setCurrentIndex(1);
    ui::AttentionPanel* a = w->attentionPanel();
    a->knockoutFromEdit()->setText("5-7,9");
    a->knockoutToEdit()->setText("0-2");
    a->knockoutLayersEdit()->setText("0-1");
    a->knockoutBox()->setChecked(true);
    ui::SelectionPanel* sp = w->selectionPanel();
    sp->methodBox()->setCurrentIndex(int(ui::SelectMethod::PromptDistill));
    sp->followBox()->setChecked(false);
    sp->layerSlider()->setValue(0);
    sp->kSlider()->setValue(5);
    sp->stagesEdit()->setText("0:6,1:4");
    ui::SteeringPanel* st = w->steeringPanel();
    st->conceptEdit()->setText("abc");
    st->baselineEdit()->setText("xyz, 123");
    st->alphaSlider()->setValue(-25);
    st->enabledBox()->setChecked(true);
    ui::LensPanel* lens = w->lensPanel();
    lens->finalNormBox()->setChecked(false);
    lens->midBox()->setChecked(true);
    lens->valueBox()->setCurrentIndex(1);
    lens->firstBox()->setValue(1);
    QVERIFY(waitSettled(w.get()));
    const ui::ViewState before = w->requestedState();
    QVERIFY(!before.lensGrid.finalNorm && before.lensGrid.mid && before.lensGrid.first == 1);
    QVERIFY(before.lensGrid.value == ui::LensValue::Entropy);
    QCOMPARE(before.token, 3);
    QCOMPARE(before.routerEdits.size(), size_t(2 * w->controller()->modelInfo().nLayer));
    QVERIFY(before.knockout);
    QCOMPARE(before.knockout->from, (std::vector<int>{5, 6, 7, 9}));
    QCOMPARE(before.selection.stages, std::string("0:6,1:4"));
    QVERIFY(before.steering.enabled);

    const QString path = m_dir.filePath("round.llsession");
    QString err;
    QVERIFY2(ui::saveSessionFile(w.get(), path, &err), qPrintable(err));
    const rt::SessionState saved = rt::loadSession(path.toStdString());
    QCOMPARE(saved.interventions.router, before.routerEdits);
    QCOMPARE(saved.interventions.knockout, before.knockout);
    QCOMPARE(saved.selections.size(), size_t(1));  // the shown PromptDistill selection

    auto w2 = newWindow();
    QVERIFY2(ui::openSessionFile(w2.get(), path, &err), qPrintable(err));
    QVERIFY(waitSettled(w2.get()));
    QTRY_COMPARE_WITH_TIMEOUT(w2->requestedState().token, 3, 20000);
    QVERIFY(waitSettled(w2.get()));
    const ui::ViewState after = w2->requestedState();
    QCOMPARE(after.prompt, before.prompt);
    QCOMPARE(after.layer, before.layer);
    QCOMPARE(after.head, before.head);
    QCOMPARE(after.routerEdits, before.routerEdits);
    QCOMPARE(after.knockout, before.knockout);
    QVERIFY(after.selection == before.selection);
    QVERIFY(after.steering == before.steering);
    QVERIFY(after.lensGrid == before.lensGrid);
    QVERIFY(after == before);
    QVERIFY(!w2->lensPanel()->finalNormBox()->isChecked());
    QCOMPARE(w2->lensPanel()->firstBox()->value(), 1);
    QCOMPARE(w2->shownSnapshot()->state.lensGrid.first, 1);
    QVERIFY(!w2->shownSnapshot()->lensGrid->finalNorm && w2->shownSnapshot()->lensGrid->mid);
    // The controls show it too.
    QCOMPARE(w2->routingPanel()->layersBox()->currentIndex(), 1);
    QCOMPARE(w2->routingPanel()->expertBiasSlider(1)->value(), 13);
    QCOMPARE(w2->routingPanel()->expertModeBox(2)->currentIndex(), 1);
    QCOMPARE(w2->attentionPanel()->knockoutFromEdit()->text(), QString("5-7,9"));
    QCOMPARE(w2->selectionPanel()->stagesEdit()->text(), QString("0:6,1:4"));
    QCOMPARE(w2->steeringPanel()->baselineEdit()->text(), QString("xyz, 123"));
    QVERIFY(w2->steeringPanel()->enabledBox()->isChecked());
    // Same request, same results.
    QCOMPARE(w2->shownSnapshot()->kept, w->shownSnapshot()->kept);
    QCOMPARE(w2->shownSnapshot()->steered, w->shownSnapshot()->steered);
    QVERIFY(maxLogitDiff(*w2->shownSnapshot()->trace, *w->shownSnapshot()->trace) <= 1e-5);
  }

  // Edits the expert controls cannot show (different per layer, soft promotion) and a CLI-written
  // steering vector come back verbatim.
  void verbatimEditsAndSavedVector() {
    const QString model = m_dir.filePath("demo.gguf");
    if (!QFileInfo::exists(model)) rt::demo::writeDemoModel(model.toStdString());
    rt::SessionState doc;
    doc.modelPath = "demo.gguf";
    doc.prompt = "abc abc 123";
    doc.interventions.router = {{0, 1, rt::RouterEditKind::Ban, 0.0f},
                                {1, 2, rt::RouterEditKind::BiasStd, 1.5f}};
    rt::Session probe;
    probe.load(model.toStdString(), rt::parseBackend("cpu", 1));
    std::vector<float> vec(size_t(probe.model().spec.nEmbd));
    for (size_t i = 0; i < vec.size(); ++i) vec[i] = 0.05f * float(int(i % 7) - 3);
    doc.interventions.steering.push_back({1, 2.0f, 1, vec});
    doc.view.layer = 0;
    const QString path = m_dir.filePath("verbatim.llsession");
    rt::saveSession(path.toStdString(), doc);
    auto w = newWindow();
    QString err;
    QVERIFY2(ui::openSessionFile(w.get(), path, &err), qPrintable(err));
    QVERIFY(waitSettled(w.get()));
    QCOMPARE(w->routingPanel()->layersBox()->currentIndex(), 2);  // as loaded (per layer)
    QCOMPARE(w->routingPanel()->routerEdits(), doc.interventions.router);
    const ui::SteeringSettings st = w->steeringPanel()->state();
    QVERIFY(st.enabled);
    QCOMPARE(int(st.source), int(ui::SteerSource::Saved));
    QCOMPARE(st.savedVector, vec);
    QCOMPARE(st.layer, 1);
    QCOMPARE(st.fromPos, 1);
    const auto s = w->shownSnapshot();
    QVERIFY2(s->steeringError.isEmpty(), qPrintable(s->steeringError));
    QVERIFY(!s->steered.isEmpty());
    const auto fresh = freshRun(model, doc.prompt, {{}, doc.interventions.router, {}});
    QVERIFY(maxLogitDiff(*s->trace, *fresh) <= 1e-5);
    // Saving again writes the same interventions back.
    const rt::SessionState again = w->sessionDocument();
    QCOMPARE(again.interventions.router, doc.interventions.router);
    QCOMPARE(again.interventions.steering, doc.interventions.steering);
  }

  void indexLists() {
    QCOMPARE(ui::formatIndexList({13, 14, 15, 2}), QString("13-15,2"));
    QCOMPARE(*ui::parseIndexList("0-2, 5,7-8"), (std::vector<int>{0, 1, 2, 5, 7, 8}));
    QVERIFY(!ui::parseIndexList("3-1"));
    QVERIFY(!ui::parseIndexList("5,2"));
    QVERIFY(!ui::parseIndexList("-1"));
    QVERIFY(!ui::parseIndexList("0-99999999"));
    QVERIFY(!ui::parseIndexList(""));
  }
};

QTEST_MAIN(TstSessionRestore)
#include "tst_session_restore.moc"
