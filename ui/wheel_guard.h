// Mouse-wheel guard for value controls inside scrolling panels: a slider, spin box or combo box
// changes with the wheel only once it has keyboard focus (click or Tab); otherwise the wheel event
// goes on to the scroll area or panel under it instead of silently editing a value.
#pragma once

class QWidget;

namespace ll::ui {

// Gives `control` Qt::StrongFocus (no focus from the wheel itself) and filters its wheel events.
void guardWheel(QWidget* control);
// guardWheel on every QAbstractSlider, QAbstractSpinBox and QComboBox under `root` (call again
// after adding controls; guarding twice is harmless).
void guardWheelIn(QWidget* root);

}  // namespace ll::ui
