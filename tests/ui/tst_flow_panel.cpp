// The Flow routes panel in the real main window (offscreen, not shown, so every panel takes every
// snapshot): off until Compute is ticked; then its graph holds exactly the edges
// rt::ana::flowGraph gives on the snapshot's trace and its routes lead to the selected token
// (another token re-walks them without a new graph); the threshold recomputes; hover names edges
// and nodes, a click selects (layer, token); the settings go into the session document and back;
// a new model clears the panel at once and its graph then belongs to the new (MoE) model.
#include "runtime/analysis/flow_routes.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "ui/export_actions.h"
#include "ui/flow_panel.h"
#include "ui/flow_view.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <map>
#include <memory>
#include <tuple>

using namespace ll;

namespace {

using uitest::modelPath;

using EdgeKey = std::tuple<int, int, int, int>;
std::map<EdgeKey, float> edgeMap(const rt::ana::FlowGraph& g) {
  std::map<EdgeKey, float> m;
  for (const auto& e : g.edges) m[{e.layer, int(e.kind), e.src, e.dst}] = e.weight;
  return m;
}

}  // namespace

class TstFlowPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;

  bool load(const QString& path, bool* emptyAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    // Connected after the window's own handler: runs right after it cleared the panels.
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (emptyAtLoad) *emptyAtLoad = m_w->flowPanel()->view()->graph() == nullptr;
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  // The panel against the runtime on the shown snapshot's trace (own Session).
  void compareWithRuntime(const QString& model, double threshold) {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace);
    QVERIFY2(s->flow, qPrintable(s->flowError));
    rt::Session session;
    session.load(model.toStdString(), {"cpu", 2});
    rt::ana::FlowRequest rq;
    rq.threshold = threshold;
    const rt::ana::FlowGraph g = rt::ana::flowGraph(session.engine(), *s->trace, rq);
    const ui::FlowView* v = m_w->flowPanel()->view();
    QVERIFY(v->graph());
    QCOMPARE(v->graph()->threshold, threshold);
    const auto want = edgeMap(g), got = edgeMap(*v->graph());
    QCOMPARE(got.size(), want.size());
    for (const auto& [k, w] : want) {
      const auto it = got.find(k);
      QVERIFY(it != got.end());
      QVERIFY(std::fabs(it->second - w) <= 1e-6);
    }
    // Routes to the selected token, as the runtime walks them.
    const int P = m_w->selection()->resolvedToken();
    QCOMPARE(v->routes().position, P);
    const rt::ana::FlowRoutes r = rt::ana::flowRoutes(*v->graph(), P);
    QVERIFY(v->routes().nodeFlow == r.nodeFlow);
    double atInput = 0;
    for (int t = 0; t < g.nTokens; ++t) atInput += r.nodeFlow[size_t(g.nodeId(0, t))];
    QVERIFY(atInput > 0.5);  // routes reach the embeddings: a real graph, not an empty one
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_flow_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty())
      QSKIP("stories260K.gguf / stories260K-moe4.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little"));
    QVERIFY(load(m_dense));
    auto* p = m_w->flowPanel();
    QVERIFY(!m_w->shownSnapshot()->flow);  // off by default: nothing computed
    QVERIFY(!p->view()->graph());
    // Fits a narrow, short dock (a 1024x700 screen).
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 400,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    p->enabledBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime(m_dense, 0.04);

    // Another token: the same graph, routes walked to the new token.
    const auto graphBefore = m_w->shownSnapshot()->flow;
    m_w->selection()->setToken(3);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->token, 3);
    QVERIFY(m_w->shownSnapshot()->flow == graphBefore);
    compareWithRuntime(m_dense, 0.04);

    p->thresholdBox()->setValue(0.1);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.flow.threshold, 0.1);
    compareWithRuntime(m_dense, 0.1);
  }

  void hoverAndClick() {
    auto* v = m_w->flowPanel()->view();
    v->resize(400, 500);
    const rt::ana::FlowGraph& g = *v->graph();
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    // Attention edges on the routes: the tooltip names both tokens and the weight; hovering 30%
    // of the way along an edge finds it (edges j -> i and j' -> i' meet there only when
    // 7 (j' - j) = 3 (i - i'), impossible in the window of 4 tokens up to token 3 shown here).
    QCOMPARE(v->firstToken(), 0);
    QCOMPARE(v->lastToken(), 3);
    int hits = 0, onRoute = 0;
    for (size_t k = 0; k < g.edges.size(); ++k) {
      const rt::ana::FlowEdge& e = g.edges[k];
      if (e.kind != rt::ana::FlowEdgeKind::Attn || e.src == e.dst || v->routes().edgeFlow[k] <= 0)
        continue;
      ++onRoute;
      const QString text = v->edgeText(k);
      QVERIFY2(text.contains(s->tokens[e.src]) && text.contains(s->tokens[e.dst]) &&
                   text.contains(QString::number(e.weight, 'g', 3)) && text.contains("route flow"),
               qPrintable(text));
      const QPointF a = v->nodePos(e.srcLevel(), e.src), b = v->nodePos(e.dstLevel(), e.dst);
      hits += v->edgeAt(a + 0.3 * (b - a)) == int(k);
    }
    QVERIFY(onRoute > 0);
    QCOMPARE(hits, onRoute);
    QCOMPARE(v->edgeAt(QPointF(1, 1)), -1);  // the corner: nothing
    // A click on the node after layer 1's attention at token 2 selects layer 1, token 2.
    int level = -1, token = -1;
    const QPointF at = v->nodePos(3, 2);
    QVERIFY(v->nodeAt(at, &level, &token));
    QCOMPARE(level, 3);
    QCOMPARE(token, 2);
    QVERIFY(v->nodeText(3, 2).contains(s->tokens[2]));
    QTest::mouseClick(v, Qt::LeftButton, {}, at.toPoint());
    QCOMPARE(m_w->selection()->layer(), 1);
    QCOMPARE(m_w->selection()->token(), 2);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(v->routes().position, 2);
  }

  void sessionKeepsSettings() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("flow.enabled"), std::string("1"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QVERIFY(v.flow.enabled);
    QCOMPARE(v.flow.threshold, 0.1);
    auto* p = m_w->flowPanel();
    const ui::FlowSettings other{true, 0.25};
    p->applyState(other);
    QCOMPARE(p->thresholdBox()->value(), 0.25);
    ui::ViewState st;
    p->applyTo(st);
    QCOMPARE(st.flow, other);
    p->applyState(v.flow);

    // Through a session file: Save, change the panel, Open restores Compute and the threshold.
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("flow.llsession"));
    QString err;
    QVERIFY2(ui::saveSessionFile(m_w.get(), file, &err), qPrintable(err));
    p->applyState({false, 0.5});
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    QVERIFY2(ui::openSessionFile(m_w.get(), file, &err), qPrintable(err));
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    QVERIFY(p->enabledBox()->isChecked());
    QCOMPARE(p->thresholdBox()->value(), 0.1);
    compareWithRuntime(m_dense, 0.1);
  }

  void newModelClears() {
    bool emptyAtLoad = false;
    QVERIFY(load(m_moe, &emptyAtLoad));
    QVERIFY(emptyAtLoad);
    compareWithRuntime(m_moe, 0.1);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstFlowPanel)
#include "tst_flow_panel.moc"
