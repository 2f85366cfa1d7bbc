// Guided demos: presets (a session document plus a title and a teacher text) read from
// resources/demos (a folder on disk, or the GUI's embedded copy of it), and the model each one
// names: "builtin:demo" is the constructed demo model, "shared:<path>" a file under the shared
// models folder (the preset is unavailable without it).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/api/session_file.h"

namespace ll::rt::demo {

inline constexpr const char* kBuiltinModel = "builtin:demo";

struct DemoPreset {
  std::string id;           // file stem, e.g. "induction-head"
  std::string title;        // menu text
  std::string teacherFile;  // e.g. "induction-head.md" (next to the preset)
  std::string teacherText;  // filled by loadDemoPresets / the caller
  int order = 0;            // menu position
  SessionState session;     // model, prompt, interventions, view
};

// `json` is a session document with a "demo" object {title, teacher, order}. Throws
// std::runtime_error naming `source` and the problem.
DemoPreset parseDemoPreset(const std::string& json, const std::string& id,
                           const std::filesystem::path& source);
// Every *.json in dir with its teacher text, sorted by order then id.
std::vector<DemoPreset> loadDemoPresets(const std::filesystem::path& dir);

// The model file a preset names. builtin:demo is written into cacheDir (once; rewritten when
// missing). shared:<rel> is looked up under each shared folder in turn; nullopt when absent.
std::optional<std::filesystem::path> resolveDemoModel(
    const std::string& model, const std::filesystem::path& cacheDir,
    const std::vector<std::filesystem::path>& sharedDirs);

// Where the shared folder may be: $LAYERLENS_SHARED_DIR, then ../shared and ../../shared from
// the current directory.
std::vector<std::filesystem::path> defaultSharedDirs();

}  // namespace ll::rt::demo
