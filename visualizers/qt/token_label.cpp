#include "visualizers/qt/token_label.h"

namespace ll::vis {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (0 if the bytes there are not one).
size_t utf8Length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  unsigned cp = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not valid.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

QString tokenLabel(const std::string& piece) {
  QString out;
  for (size_t i = 0; i < piece.size();) {
    const unsigned char c = static_cast<unsigned char>(piece[i]);
    const size_t n = utf8Length(piece, i);
    if (n == 0) {
      out += QString::asprintf("<0x%02X>", c);
      ++i;
      continue;
    }
    if (n == 1) {
      if (c == ' ')
        out += QChar(0x2423);  // ␣
      else if (c == '\n')
        out += QStringLiteral("\\n");
      else if (c == '\t')
        out += QStringLiteral("\\t");
      else if (c == '\r')
        out += QStringLiteral("\\r");
      else if (c < 0x20 || c == 0x7F)
        out += QString::asprintf("<0x%02X>", c);
      else
        out += QLatin1Char(static_cast<char>(c));
    } else {
      out += QString::fromUtf8(piece.data() + i, qsizetype(n));
    }
    i += n;
  }
  return out;
}

}  // namespace ll::vis
