// The Attribution panel (the real main window, offscreen, no Vulkan) on stories260K: its bars, its
// layer x head map and its total against rt::ana::directLogitAttribution on the snapshot's trace
// (computed here on a session of our own); the default target is the model's top-1 at the
// selected token, a typed id / token text and a "minus" token change it, the position follows the
// selected token, a knockout changes the terms (the trace it reads is the knocked-out run), the
// same JSON as the CLI's, sessions keep target and minus, a model change clears the panel.
#include "runtime/analysis/attribution.h"
#include "runtime/api/session.h"
#include "runtime/api/session_file.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/attention_panel.h"
#include "ui/attribution_panel.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/theme.h"
#include "visualizers/colormap.h"

#include <qcustomplot.h>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

std::vector<double> barValues(QCustomPlot* p, int i) {
  std::vector<double> v;
  auto* b = qobject_cast<QCPBars*>(p->plottable(i));
  for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it) v.push_back(it->value);
  return v;
}

double maxDiff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

}  // namespace

class TstAttributionPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  rt::Session m_ref;
  QString m_stories;

  ui::SnapshotPtr snap() const { return m_w->shownSnapshot(); }
  bool settle() { return uitest::waitSettled(m_w.get()); }
  ui::AttributionPanel* panel() const { return m_w->attributionPanel(); }

  // "" when the panel shows exactly the runtime's attribution of the shown trace for (a, b).
  QString compareWithRuntime(int32_t a, int32_t b) {
    const ui::SnapshotPtr s = snap();
    if (!s->attribution) return QStringLiteral("no attribution: ") + s->attributionError;
    const rt::ana::Attribution want =
        rt::ana::directLogitAttribution(m_ref.engine(), *s->trace, {a, b, s->token});
    const rt::ana::Attribution& got = *s->attribution;
    if (got.target != a || got.other != b || got.position != s->token)
      return QStringLiteral("request %1 %2 %3").arg(got.target).arg(got.other).arg(got.position);
    if (maxDiff(barValues(panel()->layerPlot(), 0), want.attn) > 1e-9) return "attention bars";
    if (maxDiff(barValues(panel()->layerPlot(), 1), want.mlp) > 1e-9) return "MLP bars";
    QCPColorMapData* d = panel()->headMap()->data();
    if (d->keySize() != want.nHead || d->valueSize() != want.nLayer) return "map shape";
    for (int l = 0; l < want.nLayer; ++l)
      for (int h = 0; h < want.nHead; ++h)
        if (std::fabs(d->cell(h, l) - want.head(l, h)) > 1e-9)
          return QStringLiteral("head %1 of layer %2").arg(h).arg(l);
    const QString total = QString::number(want.total(), 'g', 5);
    if (!panel()->summaryText().contains(total))
      return "summary '" + panel()->summaryText() + "' lacks " + total;
    if (std::fabs(want.total() - want.logit) > 1e-4 * std::max(1.0, std::fabs(want.logit)))
      return "terms do not sum to the logit";
    return {};
  }

  int32_t top1(const rt::Trace& tr, int t) const {
    const float* row = tr.logitsRow(t);
    return static_cast<int32_t>(std::max_element(row, row + tr.nVocab) - row);
  }

  void setFields(const QString& target, const QString& other) {
    panel()->targetEdit()->setText(target);
    panel()->otherEdit()->setText(other);
    emit panel()->targetEdit()->editingFinished();
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    m_stories = modelPath("stories260K.gguf");
    if (m_stories.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 1);
    m_w->setDebounceMs(0);
    m_w->resize(1400, 900);
    m_w->show();
    m_w->dock("attribution")->raise();
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little girl"));
    m_w->openModel(m_stories);
    QVERIFY(settle());
    m_ref.load(m_stories.toStdString(), rt::parseBackend("cpu", 1));
  }

  // Default: the model's top-1 at the selected (last) token.
  void showsTheRuntimeAttribution() {
    const auto s = snap();
    QCOMPARE(s->token, s->nTokens - 1);
    QCOMPARE(compareWithRuntime(top1(*s->trace, s->token), -1), QString());
    // The map is coloured by the diverging colormap of the heatmaps: 0 is its light centre, the
    // ends its blue and red (a colour scale would otherwise impose its own default gradient).
    const vis::ColormapLut& lut = vis::colormapLut(vis::Colormap::Diverging);
    const QCPRange r(-1.0, 1.0);
    for (const auto& [v, i] : {std::pair{-1.0, 0}, std::pair{0.0, 128}, std::pair{1.0, 255}}) {
      const QColor c = QColor::fromRgb(panel()->headMap()->gradient().color(v, r));
      const int d = std::abs(c.red() - lut[i * 4]) + std::abs(c.green() - lut[i * 4 + 1]) +
                    std::abs(c.blue() - lut[i * 4 + 2]);
      QVERIFY2(d <= 12, qPrintable(QStringLiteral("value %1 is %2").arg(v).arg(c.name())));
    }
  }

  // A typed id, a token text for "minus", and the position following the selected token.
  void fieldsAndPosition() {
    setFields(QStringLiteral("20"), QString());
    QVERIFY(settle());
    QCOMPARE(compareWithRuntime(20, -1), QString());
    const std::string piece = m_ref.model().tokenizer->piece(40);
    setFields(QStringLiteral("20"), QString::fromStdString(piece));
    QVERIFY(settle());
    QCOMPARE(compareWithRuntime(20, 40), QString());
    QVERIFY(panel()->summaryText().contains(QStringLiteral(" - logit(")));
    m_w->selection()->setToken(3);
    QVERIFY(settle());
    QCOMPARE(snap()->token, 3);
    QCOMPARE(compareWithRuntime(20, 40), QString());
    // Bad input is a message in the panel, not a crash.
    setFields(QStringLiteral("99999"), QString());
    QVERIFY(settle());
    QVERIFY(!snap()->attribution);
    QVERIFY(panel()->summaryText().contains(QStringLiteral("outside the vocabulary")));
    QVERIFY(barValues(panel()->layerPlot(), 0).empty());
    setFields(QString(), QString());
    m_w->selection()->setToken(-1);
    QVERIFY(settle());
  }

  // Out of view (another tab in front) the worker skips the attribution; in view again, the panel
  // gets it for the current run.
  void computedOnlyInView() {
    m_w->dock("lens")->raise();
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little boy"));
    QVERIFY(settle());
    QVERIFY(!snap()->state.attribution.enabled);
    QVERIFY(!snap()->attribution);
    m_w->dock("attribution")->raise();
    QVERIFY(settle());
    const auto s = snap();
    QVERIFY(s->state.attribution.enabled);
    QCOMPARE(compareWithRuntime(top1(*s->trace, s->token), -1), QString());
  }

  // A knockout of every query's view of the first tokens changes the run and with it the terms.
  void knockoutChangesTheTerms() {
    const auto before = snap();
    QVERIFY(before->attribution);
    rt::Knockout ko;
    ko.from = {before->nTokens - 1};
    for (int t = 0; t < before->nTokens - 1; ++t) ko.to.push_back(t);
    ko.layerBegin = 0;
    ko.layerEnd = before->nLayer;
    m_w->attentionPanel()->applyKnockout(ko);
    emit m_w->attentionPanel()->settingsChanged();
    QVERIFY(settle());
    const auto s = snap();
    QVERIFY(s->state.knockout.has_value());
    QCOMPARE(compareWithRuntime(top1(*s->trace, s->token), -1), QString());
    QVERIFY(maxDiff(s->attribution->attn, before->attribution->attn) > 1e-3);
    m_w->attentionPanel()->applyKnockout(std::nullopt);
    emit m_w->attentionPanel()->settingsChanged();
    QVERIFY(settle());
    QVERIFY(maxDiff(snap()->attribution->attn, before->attribution->attn) < 1e-6);
  }

  // File > Export data writes the JSON `layerlens-cli attribute` writes for the same ids, target,
  // other and position: the same keys and the same numbers.
  void jsonExportMatchesTheCli() {
    QString cli;
    const QDir dir(QCoreApplication::applicationDirPath());
    for (const char* rel : {"../app/layerlens-cli", "../../app/layerlens-cli"})
      if (QFile::exists(dir.filePath(rel))) cli = dir.filePath(rel);
    if (cli.isEmpty()) QSKIP("layerlens-cli not built");
    setFields(QStringLiteral("20"), QStringLiteral("40"));
    m_w->selection()->setToken(4);
    QVERIFY(settle());
    const auto s = snap();
    QVERIFY(s->attribution);
    QTemporaryDir tmp;
    const QString gui = tmp.filePath("gui.json"), fromCli = tmp.filePath("cli.json");
    QString err;
    QVERIFY2(ui::exportViewData(*s, "attribution", gui, "stories260K.gguf", &err), qPrintable(err));
    QStringList ids;
    for (int32_t id : s->trace->ids) ids << QString::number(id);
    QProcess p;
    p.start(cli, {"attribute", m_stories, "--threads", "1", "--ids", ids.join(','), "--target",
                  "20", "--other", "40", "--position", "4", "--out", fromCli});
    QVERIFY(p.waitForFinished(60000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    auto read = [](const QString& path) {
      QFile f(path);
      return f.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(f.readAll()).object()
                                         : QJsonObject();
    };
    const QJsonObject a = read(gui), b = read(fromCli);
    QCOMPARE(a.keys(), b.keys());
    QVERIFY(a.keys().contains("heads") && a.keys().contains("logit"));
    std::function<double(const QJsonValue&, const QJsonValue&)> diff = [&](const QJsonValue& x,
                                                                           const QJsonValue& y) {
      if (x.isArray()) {
        double d = x.toArray().size() == y.toArray().size() ? 0.0 : INFINITY;
        for (int i = 0; i < x.toArray().size() && std::isfinite(d); ++i)
          d = std::max(d, diff(x.toArray()[i], y.toArray()[i]));
        return d;
      }
      return x.type() == y.type() ? std::fabs(x.toDouble() - y.toDouble()) : INFINITY;
    };
    for (const QString& k : a.keys()) QVERIFY2(diff(a[k], b[k]) < 1e-5, qPrintable(k));
    setFields(QString(), QString());
    m_w->selection()->setToken(-1);
    QVERIFY(settle());
  }

  // Sessions keep the target and the minus token: saved in the document, given back to the panel
  // (and to the request) when the session is opened again.
  void sessionKeepsTheFields() {
    setFields(QStringLiteral("20"), QStringLiteral("40"));
    QVERIFY(settle());
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("attribution.target"), std::string("20"));
    QCOMPARE(doc.view.extra.at("attribution.other"), std::string("40"));
    setFields(QString(), QString());
    QVERIFY(settle());
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->applySessionDocument(doc, m_stories);
    QVERIFY(loaded.wait(60000));
    QVERIFY(settle());
    QCOMPARE(panel()->targetEdit()->text(), QStringLiteral("20"));
    QCOMPARE(panel()->otherEdit()->text(), QStringLiteral("40"));
    QCOMPARE(snap()->state.attribution.target, std::string("20"));
    QCOMPARE(compareWithRuntime(20, 40), QString());
    setFields(QString(), QString());
    QVERIFY(settle());
  }

  // A theme change recolours what applyPlotTheme does not reach: the bars and the colour scale.
  void followsTheTheme() {
    auto* bars = qobject_cast<QCPBars*>(panel()->layerPlot()->plottable(0));
    QCPColorScale* scale = panel()->headMap()->colorScale();
    for (ui::Theme t : {ui::Theme::Dark, ui::Theme::Light}) {
      ui::applyTheme(t);
      QTRY_COMPARE(bars->brush().color(), ui::seriesColor(ui::PlotSeries::Primary, t));
      QCOMPARE(scale->axis()->tickLabelColor(), ui::themeColors(t).text);
      QCOMPARE(panel()->layerPlot()->xAxis->tickLabelColor(), ui::themeColors(t).text);
    }
  }

  // Another model clears the panel the moment it loads.
  void modelChangeClears() {
    const QString other = modelPath("stories260K-moe4.gguf");
    if (other.isEmpty()) QSKIP("stories260K-moe4.gguf not found");
    bool clearedAtLoad = false;
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      clearedAtLoad = !panel()->snapshot() && barValues(panel()->layerPlot(), 0).empty() &&
                      panel()->headMap()->data()->keySize() == 0 &&
                      panel()->summaryText().isEmpty();
    });
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(other);
    QVERIFY(loaded.wait(60000));
    disconnect(c);
    QVERIFY(clearedAtLoad);
    QVERIFY(settle());
    QVERIFY(snap()->attribution);
    QCOMPARE(int(barValues(panel()->layerPlot(), 1).size()), snap()->nLayer);
  }
};

QTEST_MAIN(TstAttributionPanel)
#include "tst_attribution_panel.moc"
