// Session files: model path, prompt, interventions, token selections and view state in one
// versioned JSON document ("format": "layerlens-session", "version": 1), saved atomically
// (temporary file in the same folder, fsync, rename, fsync of the folder) so a crash during a save
// never loses the previous one. Plain structs shared by the GUI and the CLI; no Qt.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/selection_export.h"

namespace ll::rt {

inline constexpr int kSessionVersion = 1;

// What the panels show; the GUI maps these onto its widgets, the CLI onto figure options.
struct ViewState {
  std::string activeView = "attention";  // attention | headgrid | lens | routing | selection
  int layer = 0;
  int head = 0;        // -1 = mean over heads
  std::string method;  // lens method or selection method
  int k = 0;           // selection budget (0 = method default)
  std::vector<std::string> openPanels;
  std::map<std::string, std::string> extra;  // panel-specific settings, kept verbatim
  bool operator==(const ViewState&) const = default;
};

struct SessionState {
  std::string modelPath;  // as the user opened it (may be relative to the session file)
  std::string prompt;
  int addBos = -1;  // -1 = the vocabulary's default
  std::string backend = "cpu";
  Interventions interventions;
  std::vector<SelectionRecord> selections;
  ViewState view;
  bool operator==(const SessionState&) const = default;
};

// Thrown by loadSession with the file and the problem in what() ("…: written by a newer LayerLens
// (version 3; this build reads up to 1)", "…: not valid JSON at byte 12", …).
class SessionFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void saveSession(const std::filesystem::path& path, const SessionState& state);
SessionState loadSession(const std::filesystem::path& path);
// The same checks on a JSON document already in memory (demo presets embed a session); `source`
// names it in errors.
SessionState parseSession(const std::string& text, const std::filesystem::path& source);

// Test hook: called after the temporary file is written and synced, before the rename. A test
// forks a child that blocks here and SIGKILLs it to check the previous save survives.
void setSessionSaveHookForTests(std::function<void(const std::filesystem::path& tmp)> hook);

}  // namespace ll::rt
