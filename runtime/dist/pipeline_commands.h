// What rank 0's driver (pipeline.cpp) and the other ranks' serve loop (pipeline_serve.cpp) share:
// the command kinds, their header (kind and session id), the message limits, the status reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dist/pipeline.h"

namespace ll::rt::dist::detail {

// Revert: the session's last pass did not complete on every rank (cancelled or failed); the
// stage leaves its cache as one process leaves a cancelled pass (Engine::cancelStage).
// Describe, FetchTensor and Release address a kept pass by its number (remote_captures.h).
enum class Cmd : uint8_t {
  Run = 1,
  FetchLayer = 2,
  FetchHead = 3,
  Quit = 4,
  Open = 5,
  Close = 6,
  Revert = 7,
  Describe = 8,
  FetchTensor = 9,
  Release = 10
};

constexpr size_t kMaxCommand = size_t(1) << 30;  // steering vectors, patches, eviction masks
constexpr size_t kMaxReply = size_t(1) << 16;    // a status and an error message
constexpr size_t kMaxData = size_t(INT32_MAX);   // one layer's captures (MPI counts are int)

inline std::vector<char> commandHeader(Cmd cmd, SessionId session) {
  WireWriter w;
  w.put<uint8_t>(static_cast<uint8_t>(cmd));
  w.put<uint64_t>(session);
  return std::move(w.bytes());
}

inline std::string layersText(const StageRange& s) {
  return s.last - s.first == 1
             ? "layer " + std::to_string(s.first)
             : "layers " + std::to_string(s.first) + "-" + std::to_string(s.last - 1);
}

inline std::vector<char> status(bool ok, const std::string& msg) {
  WireWriter w;
  w.put<uint8_t>(ok);
  w.putString(msg);
  return std::move(w.bytes());
}

// The stage plan for this transport's ranks, the engine switched to its own range.
inline std::vector<StageRange> planStages(Transport& t, Engine& e) {
  auto stages = splitLayers(e.spec().nLayer, t.size());
  const StageRange& mine = stages[size_t(t.rank())];
  e.setLayerRange(mine.first, mine.last);
  return stages;
}

}  // namespace ll::rt::dist::detail
