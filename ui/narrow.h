// Small screens: a panel may get narrower than its widgets' natural width (the window must fit
// 1024x700), so wide combo boxes shrink (eliding their text) instead of widening the dock.
#pragma once

#include <QComboBox>

#include <algorithm>

namespace ll::ui {

// Keeps the combo's natural width when there is room; below that it may shrink to minWidth.
inline void allowNarrow(QComboBox* combo, int minWidth = 90) {
  combo->setMinimumWidth(std::min(minWidth, combo->minimumSizeHint().width()));
}

}  // namespace ll::ui
