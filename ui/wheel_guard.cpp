// Mouse-wheel guard for value controls (wheel_guard.h).
#include "ui/wheel_guard.h"

#include <QAbstractSlider>
#include <QAbstractSpinBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QEvent>
#include <QWidget>

namespace ll::ui {
namespace {

class WheelFilter : public QObject {
 public:
  using QObject::QObject;
  bool eventFilter(QObject* watched, QEvent* e) override {
    if (e->type() != QEvent::Wheel) return false;
    auto* w = qobject_cast<QWidget*>(watched);
    if (!w || w->hasFocus()) return false;
    // Swallowed here but left unaccepted: QApplication hands it on to the parent (the scroll
    // area), so the wheel still scrolls the panel.
    e->ignore();
    return true;
  }
};

WheelFilter* filter() {
  static WheelFilter* f = new WheelFilter(QCoreApplication::instance());
  return f;
}

}  // namespace

void guardWheel(QWidget* control) {
  if (!control) return;
  control->setFocusPolicy(Qt::StrongFocus);
  control->removeEventFilter(filter());
  control->installEventFilter(filter());
}

void guardWheelIn(QWidget* root) {
  if (!root) return;
  for (auto* w : root->findChildren<QAbstractSlider*>()) guardWheel(w);
  for (auto* w : root->findChildren<QAbstractSpinBox*>()) guardWheel(w);
  for (auto* w : root->findChildren<QComboBox*>()) guardWheel(w);
}

}  // namespace ll::ui
