// Implementation of the llama.cpp-compatible UTF-8 and character-class helpers.
#include "runtime/tokenizer/unicode_text.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>

namespace ll::rt::uni {

std::vector<Cpt> decodeLenient(std::string_view s) {
  std::vector<Cpt> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return k < n && (p[k] & 0xC0) == 0x80; };
  while (i < n) {
    const uint8_t b = p[i];
    uint32_t cp = kReplacement;
    size_t len = 1;
    if (!(b & 0x80)) {
      cp = b;
    } else if (!(b & 0x40)) {
      // stray continuation byte
    } else if (!(b & 0x20)) {
      if (cont(i + 1)) {
        cp = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
        len = 2;
      }
    } else if (!(b & 0x10)) {
      if (cont(i + 1) && cont(i + 2)) {
        cp = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
        len = 3;
      }
    } else if (!(b & 0x08)) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        cp = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
             (p[i + 3] & 0x3Fu);
        len = 4;
      }
    }
    out.push_back({cp, uint32_t(i), uint32_t(i + len)});
    i += len;
  }
  return out;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF) cp = kReplacement;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool isValidUtf8(std::string_view s) {
  utf8proc_int32_t cp;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(s.size());
  while (left > 0) {
    const utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
    if (k <= 0) return false;
    p += k;
    left -= k;
  }
  return true;
}

namespace {

struct ByteTables {
  std::array<std::string, 256> toUni;
  std::array<uint32_t, 256> cps{};
  ByteTables() {
    // Printable bytes stand for themselves; the rest are shifted to U+0100 upwards in order.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      cps[b] = printable ? uint32_t(b) : next++;
      appendUtf8(toUni[b], cps[b]);
    }
  }
};

const ByteTables& byteTables() {
  static const ByteTables t;
  return t;
}

bool isWhiteSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace

const std::string& byteToUnicode(uint8_t b) {
  return byteTables().toUni[b];
}

int unicodeToByte(uint32_t cp) {
  if (cp < 0x21) return -1;
  if (cp < 256) {
    const auto& t = byteTables();
    return t.cps[cp] == cp ? int(cp) : -1;
  }
  if (cp < 256 + 68) {
    // Shifted range: find the byte whose stand-in is cp.
    const auto& t = byteTables();
    for (int b = 0; b < 256; ++b)
      if (t.cps[b] == cp) return b;
  }
  return -1;
}

CharClass classify(uint32_t cp) {
  if (isWhiteSpace(cp)) return CharClass::Space;
  if (cp > 0x10FFFF) return CharClass::Other;
  switch (utf8proc_category(utf8proc_int32_t(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::Letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::Number;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return CharClass::Punct;
    default:
      return CharClass::Other;
  }
}

std::string normalizeUtf8(std::string_view s, bool compat) {
  if (!isValidUtf8(s)) return std::string(s);
  const int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), utf8proc_ssize_t(s.size()),
                   &out, utf8proc_option_t(opts));
  if (n < 0 || !out) return std::string(s);
  std::string r(reinterpret_cast<const char*>(out), size_t(n));
  std::free(out);
  return r;
}

}  // namespace ll::rt::uni
