// Helpers for the tokenizer tests: loading tokenizers from the shared fixtures and comparing
// against llama.cpp's test vectors and the reference llama-tokenize outputs.
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lltest.h"
#include "runtime/formats/gguf.h"
#include "runtime/tokenizer/tokenizer.h"

namespace toktest {

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::unique_ptr<ll::rt::Tokenizer> fromGguf(const std::filesystem::path& p) {
  auto g = ll::rt::GgufFile::open(p);
  return ll::rt::makeTokenizer(ll::rt::vocabFromGguf(*g));
}

inline std::string fromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

inline std::string showIds(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

// Spans are ordered, non-overlapping, inside the text; with `tiles` they cover it exactly.
inline std::string checkSpans(const std::string& text, const ll::rt::Encoding& e, bool tiles) {
  if (e.spans.size() != e.ids.size() || e.pieces.size() != e.ids.size()) return "size mismatch";
  int pos = 0;
  std::string covered;
  for (const auto& [b, en] : e.spans) {
    if (b < pos || en < b || en > int(text.size())) return "span out of order or range";
    if (tiles && b != pos) return "gap before span at " + std::to_string(b);
    covered += text.substr(size_t(b), size_t(en - b));
    pos = en;
  }
  if (tiles && pos != int(text.size())) return "spans end before the text";
  if (tiles && covered != text) return "covered bytes differ";
  return {};
}

struct Tally {
  int pass = 0, total = 0;
  std::string firstFailure;
  void add(bool ok, const std::string& what) {
    ++total;
    if (ok)
      ++pass;
    else if (firstFailure.empty())
      firstFailure = what;
  }
};

}  // namespace toktest
