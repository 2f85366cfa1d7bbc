// UTF-8 and Unicode helpers with llama.cpp's conventions: lenient decoding (bad bytes -> U+FFFD),
// the GPT-2 byte <-> unicode table and the character classes its pre-tokenizers use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ll::rt::uni {

constexpr uint32_t kReplacement = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes), as
// llama.cpp's unicode_len_utf8.
inline size_t leadLength(uint8_t b) {
  static const size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}

// One decoded codepoint and the input bytes it came from.
struct Cpt {
  uint32_t cp;
  uint32_t begin, end;  // byte range in the input
};

// Decodes like llama.cpp's unicode_cpts_from_utf8: a bad sequence yields U+FFFD for its first
// byte and decoding resumes at the next byte. Overlongs and surrogates are accepted as it does.
std::vector<Cpt> decodeLenient(std::string_view s);

// UTF-8 of a codepoint; values above U+10FFFF give U+FFFD.
void appendUtf8(std::string& out, uint32_t cp);

// True when s is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF).
bool isValidUtf8(std::string_view s);

// GPT-2 byte-level alphabet: byte -> UTF-8 of its printable stand-in, and back (-1: none).
const std::string& byteToUnicode(uint8_t b);
int unicodeToByte(uint32_t cp);

enum class CharClass : uint8_t { Other, Letter, Number, Punct, Space };
// Whitespace first (Unicode White_Space), then general category L / N / P.
CharClass classify(uint32_t cp);

// NFC / NFKC via utf8proc (HF normalizers). Invalid UTF-8 is returned unchanged.
std::string normalizeUtf8(std::string_view s, bool compat);

}  // namespace ll::rt::uni
