// Bounds of the remote Session API: every count, length and size a client sends is checked
// against these (or the model's own shape) before it reaches the runtime.
#pragma once

#include <cstdint>

namespace ll::remote {

// Default largest gRPC message either side sends or accepts; trace reads are sized under it.
constexpr int64_t kDefaultMaxMessageBytes = 16 << 20;
constexpr int64_t kMinMaxMessageBytes = 64 << 10;
// Bytes of a reply besides its values (field tags, lengths, shapes).
constexpr int64_t kReplyOverheadBytes = 1024;
constexpr int kMaxSessions = 64;
constexpr int kMaxTracesPerSession = 4;  // older traces of a session are dropped
constexpr int kMaxPromptTokens = 1 << 20;
constexpr int kMaxGenerateTokens = 1 << 16;
constexpr int kMaxInterventionItems = 4096;  // steering, router edits, masks, skips, patches each
constexpr int kMaxLensTopK = 100;
constexpr int kMaxThreads = 1024;
constexpr int kMaxPathBytes = 4096;
// How deeply an Analyze request's JSON may nest (requests are objects of values and value arrays);
// its size is bounded by the message limit.
constexpr int kMaxAnalyzeRequestDepth = 4;
// Sessions untouched this long are closed when another one opens (a client that vanished).
constexpr int64_t kSessionIdleSeconds = 30 * 60;

}  // namespace ll::remote
