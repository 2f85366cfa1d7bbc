// One token piece as the app and the exported figures show it: literal text (never HTML),
// whitespace and bytes made visible.
#pragma once

#include <QString>

#include <string>

namespace ll::vis {

// A token piece (the bytes of text it stands for) as a label: a space as "␣", newline, tab and
// carriage return as "\n", "\t", "\r", other control bytes and bytes that are not valid UTF-8
// (byte-fallback tokens) as "<0xNN>". The result is plain text: show it with Qt::PlainText or
// escape it (QString::toHtmlEscaped) where rich text is needed.
QString tokenLabel(const std::string& piece);

}  // namespace ll::vis
