// Preset parsing, folder loading and model resolution for the guided demos.
#include "runtime/demo/demo_presets.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "runtime/demo/demo_model.h"

namespace ll::rt::demo {

namespace fs = std::filesystem;

namespace {
std::string readText(const fs::path& p, uintmax_t limit) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) throw std::runtime_error(p.string() + ": cannot read (" + ec.message() + ")");
  if (size > limit) throw std::runtime_error(p.string() + ": file is too large");
  std::ifstream in(p, std::ios::binary);
  std::string s(size, '\0');
  if (!in.read(s.data(), std::streamsize(size)))
    throw std::runtime_error(p.string() + ": cannot read");
  return s;
}
}  // namespace

DemoPreset parseDemoPreset(const std::string& json, const std::string& id, const fs::path& source) {
  DemoPreset d;
  d.id = id;
  d.session = parseSession(json, source);  // checks format and version
  const auto j = nlohmann::json::parse(json);
  const auto it = j.find("demo");
  if (it == j.end() || !it->is_object())
    throw std::runtime_error(source.string() + ": not a demo preset (no \"demo\" object)");
  try {
    d.title = it->at("title").get<std::string>();
    d.teacherFile = it->value("teacher", id + ".md");
    d.order = it->value("order", 100);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(source.string() + ": bad \"demo\" object (" + e.what() + ")");
  }
  if (d.teacherFile.find('/') != std::string::npos || d.teacherFile.find("..") != std::string::npos)
    throw std::runtime_error(source.string() + ": teacher file must be a plain file name");
  return d;
}

std::vector<DemoPreset> loadDemoPresets(const fs::path& dir) {
  std::vector<DemoPreset> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    DemoPreset d = parseDemoPreset(readText(e.path(), 1 << 20), e.path().stem().string(), e.path());
    d.teacherText = readText(dir / d.teacherFile, 1 << 20);
    out.push_back(std::move(d));
  }
  if (ec) throw std::runtime_error(dir.string() + ": cannot list demos (" + ec.message() + ")");
  std::sort(out.begin(), out.end(), [](const DemoPreset& a, const DemoPreset& b) {
    return a.order != b.order ? a.order < b.order : a.id < b.id;
  });
  return out;
}

std::optional<fs::path> resolveDemoModel(const std::string& model, const fs::path& cacheDir,
                                         const std::vector<fs::path>& sharedDirs) {
  if (model == kBuiltinModel) {
    const fs::path p = cacheDir / "layerlens-demo.gguf";
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      fs::create_directories(cacheDir, ec);
      writeDemoModel(p);
    }
    return p;
  }
  const std::string prefix = "shared:";
  if (model.rfind(prefix, 0) == 0) {
    const fs::path rel = model.substr(prefix.size());
    if (rel.is_absolute() || rel.string().find("..") != std::string::npos) return std::nullopt;
    for (const auto& d : sharedDirs) {
      std::error_code ec;
      if (fs::is_regular_file(d / rel, ec)) return d / rel;
    }
    return std::nullopt;
  }
  std::error_code ec;
  if (fs::is_regular_file(model, ec) || fs::is_directory(model, ec)) return fs::path(model);
  return std::nullopt;
}

std::vector<fs::path> defaultSharedDirs() {
  std::vector<fs::path> dirs;
  if (const char* e = std::getenv("LAYERLENS_SHARED_DIR"); e && *e) dirs.emplace_back(e);
  dirs.emplace_back("../shared");
  dirs.emplace_back("../../shared");
  return dirs;
}

}  // namespace ll::rt::demo
