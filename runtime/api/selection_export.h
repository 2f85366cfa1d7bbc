// Token-selection exports: the kept/dropped tokens of one selection method with their ids, pieces,
// byte spans and scores, plus the method and its parameters, as JSON or CSV that read back to the
// same record (round trip). Plain structs shared by the GUI and the CLI; no Qt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {

struct SelectedToken {
  int index = 0;  // position in the prompt
  int32_t tokenId = 0;
  std::string piece;   // token bytes (may be any bytes; JSON/CSV escape them)
  int byteBegin = -1;  // byte span in the prompt text ({-1,-1} when unknown)
  int byteEnd = -1;
  float score = 0.0f;  // the method's score (0 where it gives none)
  bool kept = false;
  bool operator==(const SelectedToken&) const = default;
};

struct SelectionRecord {
  std::string method;                         // "gemfilter", "snapkv", "h2o", "promptdistill"
  std::map<std::string, std::string> params;  // e.g. {"k": "8", "layer": "3", "kernel": "5"}
  std::string model;                          // model file name (informational)
  std::string promptHash;                     // promptHash() of the prompt text
  std::string prompt;                         // the prompt text itself ("" when not recorded)
  // The k the method ran with (params' "k" clamped to the prompt; 0 when not recorded) and why it
  // keeps more than that (selection_reasons.h; "" when it keeps <= k).
  int kUsed = 0;
  std::string reason;
  std::vector<SelectedToken> tokens;  // every prompt token, in order
  bool operator==(const SelectionRecord&) const = default;
};

// One record from a trace: kept = the method's kept indices, scores = one per token (or empty).
SelectionRecord makeSelectionRecord(const Trace& trace, const std::vector<int>& kept,
                                    const std::vector<float>& scores, std::string method,
                                    std::map<std::string, std::string> params);

// First 12 hex digits of SHA-256 of the prompt bytes: identifies a prompt in captions and exports
// without repeating it.
std::string promptHash(const std::string& prompt);
std::string sha256Hex(const std::string& bytes);

// Writers throw std::runtime_error naming the file; readers also name the problem (bad JSON, a
// missing column, a malformed number...). Both are bounds-checked: exports are untrusted input.
void writeSelectionJson(const std::filesystem::path& path, const SelectionRecord& rec);
SelectionRecord readSelectionJson(const std::filesystem::path& path);
// The JSON object of one record (also embedded in session files); the reader throws
// std::runtime_error naming `file` and the problem.
nlohmann::ordered_json selectionToJson(const SelectionRecord& rec);
SelectionRecord selectionFromJson(const nlohmann::ordered_json& j,
                                  const std::filesystem::path& file);

// CSV: "# key: value" comment lines (format, method, model, prompt_hash, prompt as a JSON string
// literal, or prompt_hex for bytes that are not UTF-8, k_used, reason as a JSON string literal,
// param.<name>), then
// index,token_id,piece,byte_begin,byte_end,score,kept with RFC 4180 quoting of the piece.
void writeSelectionCsv(const std::filesystem::path& path, const SelectionRecord& rec);
SelectionRecord readSelectionCsv(const std::filesystem::path& path);

}  // namespace ll::rt
