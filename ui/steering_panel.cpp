#include "ui/steering_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace {
constexpr double kAlphaStep = 0.1;

std::vector<std::string> splitList(const QString& text, QChar sep) {
  std::vector<std::string> out;
  for (const QString& s : text.split(sep, Qt::SkipEmptyParts)) {
    const QString t = s.trimmed();
    if (!t.isEmpty()) out.push_back(t.toStdString());
  }
  return out;
}
}  // namespace

SteeringPanel::SteeringPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  // A short label (the dock must fit a small screen's right column); the tooltip says more.
  m_enabled = new QCheckBox(tr("Steer (with / without the vector)"), this);
  m_enabled->setToolTip(tr("Compare the continuation with and without the steering vector"));
  v->addWidget(m_enabled);
  auto* form = new QFormLayout;
  m_source = new QComboBox(this);
  m_source->addItems({tr("concept word - baseline words"), tr("positive - negative prompts"),
                      tr("vector from the session")});
  allowNarrow(m_source);
  form->addRow(tr("Vector"), m_source);
  m_concept = new QLineEdit(QStringLiteral("happy"), this);
  form->addRow(tr("Concept"), m_concept);
  m_baselines = new QLineEdit(QStringLiteral("table, river, number"), this);
  form->addRow(tr("Baselines"), m_baselines);
  m_positive = new QPlainTextEdit(this);
  m_positive->setPlaceholderText(tr("one positive prompt per line"));
  m_negative = new QPlainTextEdit(this);
  m_negative->setPlaceholderText(tr("one negative prompt per line"));
  for (auto* e : {m_positive, m_negative}) e->setMaximumHeight(60);
  form->addRow(tr("Positive"), m_positive);
  form->addRow(tr("Negative"), m_negative);
  auto* lrow = new QHBoxLayout;
  m_layer = new QSlider(Qt::Horizontal, this);
  m_layerLabel = new QLabel(this);
  lrow->addWidget(m_layer, 1);
  lrow->addWidget(m_layerLabel);
  form->addRow(tr("Layer"), lrow);
  auto* arow = new QHBoxLayout;
  m_alpha = new QSlider(Qt::Horizontal, this);
  m_alpha->setRange(-200, 200);
  m_alpha->setValue(40);
  m_alphaLabel = new QLabel(this);
  arow->addWidget(m_alpha, 1);
  arow->addWidget(m_alphaLabel);
  form->addRow(tr("alpha"), arow);
  m_from = new QSpinBox(this);
  m_from->setRange(0, 100000);
  form->addRow(tr("From position"), m_from);
  v->addLayout(form);
  m_readout = new QLabel(this);
  m_readout->setWordWrap(true);
  v->addWidget(m_readout);
  auto* cmp = new QHBoxLayout;
  auto* l1 = new QVBoxLayout;
  auto* l2 = new QVBoxLayout;
  m_plain = new QPlainTextEdit(this);
  m_steered = new QPlainTextEdit(this);
  for (auto* e : {m_plain, m_steered}) e->setReadOnly(true);
  l1->addWidget(new QLabel(tr("Without the vector"), this));
  l1->addWidget(m_plain);
  l2->addWidget(new QLabel(tr("With the vector"), this));
  l2->addWidget(m_steered);
  cmp->addLayout(l1);
  cmp->addLayout(l2);
  v->addLayout(cmp, 1);

  auto changed = [this] {
    updateLabels();
    emit settingsChanged();
  };
  connect(m_enabled, &QCheckBox::toggled, this, changed);
  connect(m_source, &QComboBox::currentIndexChanged, this, changed);
  connect(m_concept, &QLineEdit::editingFinished, this, changed);
  connect(m_baselines, &QLineEdit::editingFinished, this, changed);
  connect(m_positive, &QPlainTextEdit::textChanged, this, changed);
  connect(m_negative, &QPlainTextEdit::textChanged, this, changed);
  connect(m_layer, &QSlider::valueChanged, this, changed);
  connect(m_alpha, &QSlider::valueChanged, this, changed);
  connect(m_from, &QSpinBox::valueChanged, this, changed);
  updateLabels();
}

void SteeringPanel::updateLabels() {
  m_layerLabel->setText(QString::number(m_layer->value()));
  m_alphaLabel->setText(QString::number(m_alpha->value() * kAlphaStep, 'f', 1));
  const bool byConcept = m_source->currentIndex() == 0;
  const bool byPrompts = m_source->currentIndex() == 1;
  m_concept->setEnabled(byConcept);
  m_baselines->setEnabled(byConcept);
  m_positive->setEnabled(byPrompts);
  m_negative->setEnabled(byPrompts);
}

void SteeringPanel::modelChanged(const ModelInfo& info) {
  m_layer->setRange(0, std::max(0, info.nLayer - 1));
  m_layer->setValue(info.nLayer * 7 / 10);  // ALGORITHMS.md §8 default: floor(0.7 L)
  updateLabels();
}

void SteeringPanel::applyTo(ViewState& state) const {
  SteeringSettings& st = state.steering;
  st.enabled = m_enabled->isChecked();
  st.source = static_cast<SteerSource>(std::clamp(m_source->currentIndex(), 0, 2));
  if (st.source == SteerSource::Saved) st.savedVector = m_saved;
  st.conceptWord = m_concept->text().trimmed().toStdString();
  st.baselines = splitList(m_baselines->text(), QLatin1Char(','));
  st.positive = splitList(m_positive->toPlainText(), QLatin1Char('\n'));
  st.negative = splitList(m_negative->toPlainText(), QLatin1Char('\n'));
  st.layer = m_layer->value();
  st.alpha = static_cast<float>(m_alpha->value() * kAlphaStep);
  st.fromPos = m_from->value();
}

void SteeringPanel::applyState(const SteeringSettings& st) {
  const QSignalBlocker block(this);
  m_saved = st.source == SteerSource::Saved ? st.savedVector : std::vector<float>();
  m_source->setCurrentIndex(static_cast<int>(st.source));
  m_concept->setText(QString::fromStdString(st.conceptWord));
  QStringList base;
  for (const auto& b : st.baselines) base << QString::fromStdString(b);
  m_baselines->setText(base.join(QStringLiteral(", ")));
  QStringList pos, neg;
  for (const auto& p : st.positive) pos << QString::fromStdString(p);
  for (const auto& n : st.negative) neg << QString::fromStdString(n);
  m_positive->setPlainText(pos.join('\n'));
  m_negative->setPlainText(neg.join('\n'));
  if (st.layer >= 0) m_layer->setValue(st.layer);
  m_alpha->setValue(static_cast<int>(std::lround(st.alpha / kAlphaStep)));
  m_from->setValue(std::max(0, st.fromPos));
  m_enabled->setChecked(st.enabled);
  updateLabels();
}

SteeringSettings SteeringPanel::state() const {
  ViewState v;
  applyTo(v);
  return v.steering;
}

QString SteeringPanel::steeredText() const {
  return m_steered->toPlainText();
}
QString SteeringPanel::plainText() const {
  return m_plain->toPlainText();
}
QString SteeringPanel::readout() const {
  return m_readout->text();
}

void SteeringPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.state.steering.enabled) {
    m_readout->setText(tr("Steering is off."));
    m_plain->clear();  // no continuations of an earlier prompt or model stay on screen
    m_steered->clear();
    return;
  }
  if (!s.hasSteering) return;
  if (!s.steeringError.isEmpty()) {
    m_readout->setText(
        tr("<span style='color:#c0392b'>%1</span>").arg(s.steeringError.toHtmlEscaped()));
    return;
  }
  m_readout->setText(
      tr("Layer %1: alpha ||v|| / mean ||h|| = %2").arg(s.steerLayer).arg(s.pushRatio, 0, 'f', 3));
  m_plain->setPlainText(s.unsteered);
  m_steered->setPlainText(s.steered);
}

}  // namespace ll::ui
