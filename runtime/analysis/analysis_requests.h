// The requests of the named analyses whose CLI commands take more than a runtime request type
// (patch, knockout, steer-sweep, compare, routing, steer-vector): everything the command sends,
// with the inputs it reads from the client's files (prompt sets, a steering vector) as values, so
// a server never opens a client path. Their JSON forms and runs: analysis_requests.cpp and
// analysis_runs.cpp (the entry points stay analysis_call.h's).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/analysis/teacher.h"

namespace ll::rt::ana {

// Bounds of the value arrays a request carries (each also bounded by the message it came in).
inline constexpr size_t kMaxRequestTokens = 1 << 20;
inline constexpr size_t kMaxRequestPrompts = 1 << 16;
inline constexpr size_t kMaxRequestFloats = 1 << 20;

// `patch`: the clean and corrupted prompts as text (tokenized on the model with addBos) or ids;
// the analysis's interventions (the GUI's router edits and knockout) apply to every pass.
struct PatchCall {
  PatchingRequest request;
  std::string clean, corrupt;
  std::vector<int32_t> cleanIds, corruptIds;
  int addBos = -1;  // -1: the vocabulary's default, 0: no, 1: yes
};

// `knockout`: spans as `--from` / `--to` take them, on the session's prompt.
struct KnockoutCall {
  std::string from = "last", to = "all-but-last";
  int layer = -1;  // centre; < 0: n_layer / 2
  int window = KnockoutReadoutRequest{}.window;
  int32_t answer = -1;
  bool sweep = false;
  // The GUI's readout: the knockout comes with the analysis's interventions (its layers as given,
  // from/to/layer unused) and is measured under their other ones (router edits).
  bool readout = false;
};

// `steer-sweep`: the vector read by the client (.npy or a control vector's layer).
struct SteerSweepCall {
  SteeringSweepRequest request;
  std::vector<float> vector;
};

// `compare`: the teacher is a model path where the analysis runs (a server's: inside --models).
struct CompareCall {
  std::string teacher;
  TeacherRequest request;
};

// `routing`: the run's interventions come as the analysis's base; the picker's prompt sets are
// values. dump: the folder the client writes the arrays to (echoed in the document, never opened
// where the analysis runs); empty: no arrays.
struct RoutingCall {
  float coverage = 0.9f;
  std::string compareText;  // second prompt (JSD per layer); empty: none
  int addBos = -1;          // for compareText
  std::vector<std::string> task, neutral;
  float tau = 0.1f;
  bool allLayers = false;
  std::string dump;
};

// `steer-vector`: method "import" (vector given), "concept" (conceptWord, baselines, tmpl) or
// "contrastive" (positive, negative). out: the client's output path, echoed in the document.
struct SteerVectorCall {
  std::string method = "contrastive";
  int layer = -1;  // < 0: floor(0.7 n_layer)
  std::vector<float> vector;
  std::string conceptWord, tmpl = "Tell me about {word}";
  std::vector<std::string> baselines, positive, negative;
  std::string out;
  float readoutAlpha = 0.0f;  // 0: no readout
  int from = 0, gen = 8;
  // false: the vector only, no run of the prompt for push_ratio_alpha1 (the GUI computes the push
  // ratio on its own run's trace, and a pass here would change the session's cache).
  bool push = true;
};

nlohmann::json patchCallJson(const PatchCall& c);
nlohmann::json knockoutCallJson(const KnockoutCall& c);
nlohmann::json steerSweepCallJson(const SteerSweepCall& c);
nlohmann::json contrastCallJson(const ExpertContrastRequest& c);
nlohmann::json compareCallJson(const CompareCall& c);
nlohmann::json routingCallJson(const RoutingCall& c);
nlohmann::json steerVectorCallJson(const SteerVectorCall& c);

// Each throws std::invalid_argument naming the field (as parseAnalysisRequest).
PatchCall parsePatchCall(const nlohmann::json& j);
KnockoutCall parseKnockoutCall(const nlohmann::json& j);
SteerSweepCall parseSteerSweepCall(const nlohmann::json& j);
ExpertContrastRequest parseContrastCall(const nlohmann::json& j);
CompareCall parseCompareCall(const nlohmann::json& j);
RoutingCall parseRoutingCall(const nlohmann::json& j);
SteerVectorCall parseSteerVectorCall(const nlohmann::json& j);

}  // namespace ll::rt::ana
