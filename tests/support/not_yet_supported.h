// The one "not yet supported" list: architectures and weight types that ../shared holds fixtures
// and references for but this build cannot run yet. Tests that iterate over the whole fixture pack
// skip exactly these entries, with a visible message, and still fail on everything else. Remove a
// name from the list in the commit that adds its support.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace lltest {

inline const std::set<std::string>& notYetSupportedArchs() {
  static const std::set<std::string> s = {};
  return s;
}

inline const std::set<std::string>& notYetSupportedTypes() {
  static const std::set<std::string> s = {};
  return s;
}

// Why a reference entry (its model.json) is not supported yet; empty when it is supported.
inline std::string notYetSupportedReason(const nlohmann::json& modelJson) {
  std::string why;
  const std::string arch = modelJson.value("arch", "");
  if (notYetSupportedArchs().count(arch)) why = "architecture " + arch;
  if (modelJson.contains("tensor_types"))
    for (const auto& [type, count] : modelJson["tensor_types"].items())
      if (notYetSupportedTypes().count(type))
        why += (why.empty() ? "" : ", ") + std::string("weight type ") + type;
  return why;
}

// Model file (relative to the shared dir, as model.json names it) -> reason, for every reference
// entry on the list. Files no reference names (vocabularies) are never skipped.
inline std::map<std::string, std::string> notYetSupportedFiles(
    const std::filesystem::path& shared) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(shared / "reference")) {
    const auto mj = e.path() / "model.json";
    if (!std::filesystem::exists(mj)) continue;
    std::ifstream in(mj);
    const auto j = nlohmann::json::parse(in);
    const std::string why = notYetSupportedReason(j);
    if (why.empty()) continue;
    out[j["model_file"].get<std::string>()] = why;
    if (j.contains("also_valid_for"))
      for (const auto& a : j["also_valid_for"]) out[a.get<std::string>()] = why;
  }
  return out;
}

// Prints the visible skip line for one entry.
inline void reportNotYetSupported(const std::string& test, const std::string& entry,
                                  const std::string& why) {
  std::printf("SKIP-ENTRY : %s: %s (not yet supported: %s)\n", test.c_str(), entry.c_str(),
              why.c_str());
  std::fflush(stdout);
}

}  // namespace lltest
