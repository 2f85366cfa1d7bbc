// JSON and CSV encodings of a token selection, and the SHA-256 prompt hash used in captions.
#include "runtime/api/selection_export.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace ll::rt {

namespace {

using Json = nlohmann::ordered_json;
constexpr uintmax_t kMaxExportBytes = 256u << 20;  // refuse absurd files before reading them
constexpr const char* kFormat = "layerlens-selection";
constexpr int kVersion = 1;

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
  throw std::runtime_error(p.string() + ": " + what);
}

std::string readAll(const std::filesystem::path& p) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) fail(p, "cannot read (" + ec.message() + ")");
  if (size > kMaxExportBytes) fail(p, "file is too large for a selection export");
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(p, "cannot open");
  std::string s(size, '\0');
  in.read(s.data(), std::streamsize(size));
  if (in.gcount() != std::streamsize(size)) fail(p, "short read");
  return s;
}

void writeAll(const std::filesystem::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) fail(p, "cannot open for writing");
  out.write(s.data(), std::streamsize(s.size()));
  out.flush();
  if (!out) fail(p, "write failed");
}

bool validUtf8(const std::string& s) {
  try {
    (void)Json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::string toHex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h += d[c >> 4];
    h += d[c & 15];
  }
  return h;
}

std::string fromHex(const std::filesystem::path& p, const std::string& h) {
  if (h.size() % 2) fail(p, "piece_hex has odd length");
  std::string s;
  for (size_t i = 0; i < h.size(); i += 2) {
    unsigned v = 0;
    auto r = std::from_chars(h.data() + i, h.data() + i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != h.data() + i + 2) fail(p, "bad hex in piece_hex");
    s += char(v);
  }
  return s;
}

std::string fmtFloat(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

// SHA-256 (FIPS 180-4).
struct Sha256 {
  std::array<uint32_t, 8> h{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void block(const uint8_t* p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(p[4 * i]) << 24 | uint32_t(p[4 * i + 1]) << 16 | uint32_t(p[4 * i + 2]) << 8 |
             uint32_t(p[4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 =
          hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
};

}  // namespace

std::string sha256Hex(const std::string& bytes) {
  Sha256 s;
  std::string m = bytes;
  const uint64_t bits = uint64_t(bytes.size()) * 8;
  m += char(0x80);
  while (m.size() % 64 != 56) m += char(0);
  for (int i = 7; i >= 0; --i) m += char((bits >> (8 * i)) & 0xff);
  for (size_t i = 0; i < m.size(); i += 64) s.block(reinterpret_cast<const uint8_t*>(m.data() + i));
  char out[65];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 8 * i, 9, "%08x", s.h[size_t(i)]);
  return std::string(out, 64);
}

std::string promptHash(const std::string& prompt) {
  return sha256Hex(prompt).substr(0, 12);
}

SelectionRecord makeSelectionRecord(const Trace& trace, const std::vector<int>& kept,
                                    const std::vector<float>& scores, std::string method,
                                    std::map<std::string, std::string> params) {
  SelectionRecord r;
  r.method = std::move(method);
  r.params = std::move(params);
  const int T = trace.nTokens;
  std::vector<uint8_t> isKept(size_t(std::max(T, 0)), 0);
  for (int k : kept)
    if (k >= 0 && k < T) isKept[size_t(k)] = 1;
  for (int t = 0; t < T; ++t) {
    SelectedToken s;
    s.index = t < int(trace.promptIndex.size()) ? trace.promptIndex[size_t(t)] : t;
    s.tokenId = t < int(trace.ids.size()) ? trace.ids[size_t(t)] : 0;
    if (t < int(trace.pieces.size())) s.piece = trace.pieces[size_t(t)];
    if (t < int(trace.spans.size())) {
      s.byteBegin = trace.spans[size_t(t)].first;
      s.byteEnd = trace.spans[size_t(t)].second;
    }
    s.score = t < int(scores.size()) ? scores[size_t(t)] : 0.0f;
    s.kept = isKept[size_t(t)] != 0;
    r.tokens.push_back(std::move(s));
  }
  return r;
}

Json selectionToJson(const SelectionRecord& rec) {
  Json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["method"] = rec.method;
  j["params"] = Json(rec.params);
  j["model"] = rec.model;
  j["prompt_hash"] = rec.promptHash;
  if (!rec.prompt.empty()) {
    if (validUtf8(rec.prompt))
      j["prompt"] = rec.prompt;
    else
      j["prompt_hex"] = toHex(rec.prompt);
  }
  if (rec.kUsed > 0) j["k_used"] = rec.kUsed;
  // The reason is built from ASCII text and numbers: always valid UTF-8.
  if (!rec.reason.empty()) j["reason"] = rec.reason;
  Json toks = Json::array();
  for (const auto& t : rec.tokens) {
    Json e;
    e["index"] = t.index;
    e["token_id"] = t.tokenId;
    if (validUtf8(t.piece))
      e["piece"] = t.piece;
    else
      e["piece_hex"] = toHex(t.piece);  // byte tokens may be invalid UTF-8 on their own
    e["byte_begin"] = t.byteBegin;
    e["byte_end"] = t.byteEnd;
    e["score"] = t.score;
    e["kept"] = t.kept;
    toks.push_back(std::move(e));
  }
  j["tokens"] = std::move(toks);
  return j;
}

SelectionRecord selectionFromJson(const Json& j, const std::filesystem::path& path) {
  try {
    if (!j.is_object() || j.value("format", "") != kFormat)
      fail(path, "not a LayerLens selection export (format is not \"layerlens-selection\")");
    const int v = j.at("version").get<int>();
    if (v > kVersion)
      fail(path, "selection export version " + std::to_string(v) +
                     " is newer than this build reads (" + std::to_string(kVersion) + ")");
    SelectionRecord r;
    r.method = j.at("method").get<std::string>();
    r.params = j.at("params").get<std::map<std::string, std::string>>();
    r.model = j.value("model", "");
    r.promptHash = j.value("prompt_hash", "");
    if (j.contains("prompt_hex"))
      r.prompt = fromHex(path, j.at("prompt_hex").get<std::string>());
    else
      r.prompt = j.value("prompt", "");
    r.kUsed = j.value("k_used", 0);
    r.reason = j.value("reason", "");
    for (const auto& e : j.at("tokens")) {
      SelectedToken t;
      t.index = e.at("index").get<int>();
      t.tokenId = e.at("token_id").get<int32_t>();
      t.piece = e.contains("piece_hex") ? fromHex(path, e.at("piece_hex").get<std::string>())
                                        : e.at("piece").get<std::string>();
      t.byteBegin = e.at("byte_begin").get<int>();
      t.byteEnd = e.at("byte_end").get<int>();
      t.score = e.at("score").get<float>();
      t.kept = e.at("kept").get<bool>();
      r.tokens.push_back(std::move(t));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("malformed selection (") + e.what() + ")");
  }
}

void writeSelectionJson(const std::filesystem::path& path, const SelectionRecord& rec) {
  writeAll(path, selectionToJson(rec).dump(1) + "\n");
}

SelectionRecord readSelectionJson(const std::filesystem::path& path) {
  const std::string text = readAll(path);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "not valid JSON at byte " + std::to_string(e.byte));
  }
  return selectionFromJson(j, path);
}

namespace {

std::string csvQuote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// Splits one CSV record starting at `pos` (RFC 4180: quoted fields may hold commas, quotes as "",
// and newlines). Advances pos past the record's line end.
std::vector<std::string> csvRecord(const std::filesystem::path& p, const std::string& s,
                                   size_t& pos) {
  std::vector<std::string> fields(1);
  bool quoted = false, wasQuoted = false;
  while (pos < s.size()) {
    const char c = s[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < s.size() && s[pos] == '"') {
          fields.back() += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      if (!fields.back().empty() || wasQuoted) fail(p, "stray quote in a CSV field");
      quoted = wasQuoted = true;
    } else if (c == ',') {
      fields.emplace_back();
      wasQuoted = false;
    } else if (c == '\n') {
      return fields;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (quoted) fail(p, "unterminated quoted CSV field");
  return fields;
}

template <class T>
T parseNum(const std::filesystem::path& p, const std::string& s, const char* col) {
  T v{};
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    fail(p, std::string("bad number '") + s.substr(0, 40) + "' in column " + col);
  return v;
}

}  // namespace

void writeSelectionCsv(const std::filesystem::path& path, const SelectionRecord& rec) {
  std::string s;
  s += std::string("# format: ") + kFormat + "\n# version: " + std::to_string(kVersion) + "\n";
  s += "# method: " + rec.method + "\n# model: " + rec.model + "\n";
  s += "# prompt_hash: " + rec.promptHash + "\n";
  // One line: the prompt as a JSON string literal (newlines, quotes and control bytes escaped).
  if (!rec.prompt.empty()) {
    if (validUtf8(rec.prompt))
      s += "# prompt: " + Json(rec.prompt).dump() + "\n";
    else
      s += "# prompt_hex: " + toHex(rec.prompt) + "\n";
  }
  if (rec.kUsed > 0) s += "# k_used: " + std::to_string(rec.kUsed) + "\n";
  if (!rec.reason.empty()) s += "# reason: " + Json(rec.reason).dump() + "\n";
  for (const auto& [k, v] : rec.params) {
    if (k.find_first_of(":\n") != std::string::npos || v.find('\n') != std::string::npos)
      fail(path, "parameter '" + k + "' cannot be written to CSV");
    s += "# param." + k + ": " + v + "\n";
  }
  s += "index,token_id,piece,byte_begin,byte_end,score,kept\n";
  for (const auto& t : rec.tokens)
    s += std::to_string(t.index) + "," + std::to_string(t.tokenId) + "," + csvQuote(t.piece) + "," +
         std::to_string(t.byteBegin) + "," + std::to_string(t.byteEnd) + "," + fmtFloat(t.score) +
         "," + (t.kept ? "1" : "0") + "\n";
  writeAll(path, s);
}

SelectionRecord readSelectionCsv(const std::filesystem::path& path) {
  const std::string s = readAll(path);
  SelectionRecord r;
  size_t pos = 0;
  bool sawFormat = false;
  while (pos < s.size() && s[pos] == '#') {
    const size_t end = std::min(s.find('\n', pos), s.size());
    std::string line = s.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(2, colon - 2), value = line.substr(colon + 2);
    if (key == "format") {
      if (value != kFormat) fail(path, "not a LayerLens selection CSV");
      sawFormat = true;
    } else if (key == "version") {
      if (parseNum<int>(path, value, "version") > kVersion)
        fail(path, "selection CSV version " + value + " is newer than this build reads");
    } else if (key == "method") {
      r.method = value;
    } else if (key == "model") {
      r.model = value;
    } else if (key == "prompt_hash") {
      r.promptHash = value;
    } else if (key == "prompt") {
      try {
        r.prompt = Json::parse(value).get<std::string>();
      } catch (const nlohmann::json::exception&) {
        fail(path, "the prompt line is not a JSON string");
      }
    } else if (key == "prompt_hex") {
      r.prompt = fromHex(path, value);
    } else if (key == "k_used") {
      r.kUsed = parseNum<int>(path, value, "k_used");
    } else if (key == "reason") {
      try {
        r.reason = Json::parse(value).get<std::string>();
      } catch (const nlohmann::json::exception&) {
        fail(path, "the reason line is not a JSON string");
      }
    } else if (key.rfind("param.", 0) == 0) {
      r.params[key.substr(6)] = value;
    }
  }
  if (!sawFormat) fail(path, "not a LayerLens selection CSV (no '# format:' line)");
  const auto header = csvRecord(path, s, pos);
  const std::vector<std::string> want = {"index",    "byte_begin", "byte_end", "kept",
                                         "token_id", "piece",      "score"};
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const auto& w : want)
    if (!col.count(w)) fail(path, "CSV has no '" + w + "' column");
  while (pos < s.size()) {
    const auto f = csvRecord(path, s, pos);
    if (f.size() == 1 && f[0].empty()) continue;
    if (f.size() != header.size())
      fail(path, "CSV row " + std::to_string(r.tokens.size() + 1) + " has " +
                     std::to_string(f.size()) + " fields, expected " +
                     std::to_string(header.size()));
    SelectedToken t;
    t.index = parseNum<int>(path, f[col["index"]], "index");
    t.tokenId = parseNum<int32_t>(path, f[col["token_id"]], "token_id");
    t.piece = f[col["piece"]];
    t.byteBegin = parseNum<int>(path, f[col["byte_begin"]], "byte_begin");
    t.byteEnd = parseNum<int>(path, f[col["byte_end"]], "byte_end");
    t.score = parseNum<float>(path, f[col["score"]], "score");
    const std::string& k = f[col["kept"]];
    if (k != "0" && k != "1") fail(path, "kept must be 0 or 1");
    t.kept = k == "1";
    r.tokens.push_back(std::move(t));
  }
  return r;
}

}  // namespace ll::rt
