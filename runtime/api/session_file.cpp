// JSON encoding of SessionState and the atomic write (tmp + fsync + rename + fsync(dir)).
#include "runtime/api/session_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ll::rt {

namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kFormat = "layerlens-session";
constexpr uintmax_t kMaxSessionBytes = 512u << 20;

std::function<void(const std::filesystem::path&)>& saveHook() {
  static std::function<void(const std::filesystem::path&)> h;
  return h;
}

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
  throw SessionFileError(p.string() + ": " + what);
}

const char* routerKindName(RouterEditKind k) {
  switch (k) {
    case RouterEditKind::Bias:
      return "bias";
    case RouterEditKind::Force:
      return "force";
    case RouterEditKind::Ban:
      return "ban";
    case RouterEditKind::BiasStd:
      return "bias_std";
  }
  return "bias";
}

RouterEditKind routerKindFrom(const std::string& s) {
  if (s == "bias") return RouterEditKind::Bias;
  if (s == "force") return RouterEditKind::Force;
  if (s == "ban") return RouterEditKind::Ban;
  if (s == "bias_std") return RouterEditKind::BiasStd;
  throw std::invalid_argument("unknown router edit kind '" + s.substr(0, 40) + "'");
}

Json toJson(const SessionState& s) {
  Json j;
  j["format"] = kFormat;
  j["version"] = kSessionVersion;
  j["model"] = s.modelPath;
  j["prompt"] = s.prompt;
  j["add_bos"] = s.addBos;
  j["backend"] = s.backend;
  Json iv;
  Json steer = Json::array();
  for (const auto& st : s.interventions.steering)
    steer.push_back({{"layer", st.layer},
                     {"alpha", st.alpha},
                     {"from_pos", st.fromPos},
                     {"vector", st.vector}});
  iv["steering"] = std::move(steer);
  Json router = Json::array();
  for (const auto& r : s.interventions.router)
    router.push_back({{"layer", r.layer},
                      {"expert", r.expert},
                      {"kind", routerKindName(r.kind)},
                      {"value", r.value}});
  iv["router"] = std::move(router);
  if (s.interventions.knockout) {
    const auto& k = *s.interventions.knockout;
    iv["knockout"] = {
        {"from", k.from}, {"to", k.to}, {"layer_begin", k.layerBegin}, {"layer_end", k.layerEnd}};
  }
  j["interventions"] = std::move(iv);
  Json sel = Json::array();
  for (const auto& r : s.selections) sel.push_back(selectionToJson(r));
  j["selections"] = std::move(sel);
  j["view"] = {
      {"active", s.view.activeView}, {"layer", s.view.layer}, {"head", s.view.head},
      {"method", s.view.method},     {"k", s.view.k},         {"open_panels", s.view.openPanels},
      {"extra", Json(s.view.extra)}};
  return j;
}

SessionState fromJson(const Json& j) {
  SessionState s;
  s.modelPath = j.at("model").get<std::string>();
  s.prompt = j.at("prompt").get<std::string>();
  s.addBos = j.value("add_bos", -1);
  s.backend = j.value("backend", "cpu");
  if (const auto it = j.find("interventions"); it != j.end()) {
    const Json& iv = *it;
    for (const auto& st : iv.value("steering", Json::array())) {
      Steering x;
      x.layer = st.at("layer").get<int>();
      x.alpha = st.at("alpha").get<float>();
      x.fromPos = st.value("from_pos", 0);
      x.vector = st.at("vector").get<std::vector<float>>();
      s.interventions.steering.push_back(std::move(x));
    }
    for (const auto& r : iv.value("router", Json::array())) {
      RouterEdit e;
      e.layer = r.at("layer").get<int>();
      e.expert = r.at("expert").get<int>();
      e.kind = routerKindFrom(r.at("kind").get<std::string>());
      e.value = r.value("value", 0.0f);
      s.interventions.router.push_back(e);
    }
    if (const auto k = iv.find("knockout"); k != iv.end() && !k->is_null()) {
      Knockout ko;
      ko.from = k->at("from").get<std::vector<int>>();
      ko.to = k->at("to").get<std::vector<int>>();
      ko.layerBegin = k->at("layer_begin").get<int>();
      ko.layerEnd = k->at("layer_end").get<int>();
      s.interventions.knockout = std::move(ko);
    }
  }
  for (const auto& r : j.value("selections", Json::array()))
    s.selections.push_back(selectionFromJson(r, "session selection"));
  if (const auto v = j.find("view"); v != j.end()) {
    s.view.activeView = v->value("active", "attention");
    s.view.layer = v->value("layer", 0);
    s.view.head = v->value("head", 0);
    s.view.method = v->value("method", "");
    s.view.k = v->value("k", 0);
    s.view.openPanels = v->value("open_panels", std::vector<std::string>{});
    s.view.extra = v->value("extra", std::map<std::string, std::string>{});
  }
  return s;
}

void writeFully(int fd, const std::string& data, const std::filesystem::path& tmp) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(tmp, std::string("write failed (") + std::strerror(errno) + ")");
    done += size_t(n);
  }
}

}  // namespace

void setSessionSaveHookForTests(std::function<void(const std::filesystem::path&)> hook) {
  saveHook() = std::move(hook);
}

void saveSession(const std::filesystem::path& path, const SessionState& state) {
  std::string data;
  try {
    data = toJson(state).dump(1) + "\n";
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("cannot encode the session (") + e.what() + ")");
  }
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    fail(path, std::string("cannot create a temporary file (") + std::strerror(errno) + ")");
  const std::filesystem::path tmp = tmpl;
  try {
    writeFully(fd, data, tmp);
    if (::fsync(fd) != 0) fail(tmp, std::string("fsync failed (") + std::strerror(errno) + ")");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (saveHook()) saveHook()(tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot replace the session file (") + std::strerror(err) + ")");
  }
  // The rename itself is durable only once the folder entry is on disk.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SessionState loadSession(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot open the session (" + ec.message() + ")");
  if (size > kMaxSessionBytes) fail(path, "file is too large to be a LayerLens session");
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), std::streamsize(size))) fail(path, "cannot read the session");
  return parseSession(text, path);
}

SessionState parseSession(const std::string& text, const std::filesystem::path& path) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "corrupt session file: not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != kFormat)
    fail(path, "not a LayerLens session (no \"format\": \"layerlens-session\")");
  if (!j.contains("version") || !j["version"].is_number_integer())
    fail(path, "corrupt session file: no integer \"version\"");
  const int64_t v = j["version"].get<int64_t>();
  if (v > kSessionVersion)
    fail(path, "written by a newer LayerLens (session version " + std::to_string(v) +
                   "; this build reads up to " + std::to_string(kSessionVersion) + ")");
  if (v < 1) fail(path, "corrupt session file: version " + std::to_string(v));
  try {
    return fromJson(j);
  } catch (const std::exception& e) {
    fail(path, std::string("corrupt session file (") + e.what() + ")");
  }
}

}  // namespace ll::rt
