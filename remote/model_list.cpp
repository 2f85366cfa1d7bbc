// The server's model listing (see model_list.h).
#include "remote/model_list.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ll::remote {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;  // config.json read for its model_type

bool inside(const fs::path& root, const fs::path& p) {
  auto [rootEnd, pIt] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return rootEnd == root.end();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string configArch(const fs::path& config) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(config, ec);
  if (ec || size > kMaxConfigBytes) return {};
  std::ifstream in(config, std::ios::binary);
  if (!in) return {};
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return {};
  const auto it = j.find("model_type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class Walker {
 public:
  explicit Walker(const fs::path& root) : m_root(root) {}

  void walk(const fs::path& dir, int depth) {
    std::error_code ec;
    fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) return;  // unreadable: skipped
    std::vector<fs::path> folders, safetensors;
    bool config = false;
    int64_t tensorBytes = 0;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec || full()) break;
      if (++m_visits > kMaxListVisits) {
        m_out.truncated = true;
        break;
      }
      const fs::path p = it->path();
      // Where a symlink leads: only inside the folder (canonical, as ModelStore::resolve checks).
      const fs::path real = fs::canonical(p, ec);
      if (ec || !inside(m_root, real)) {
        ec.clear();
        continue;
      }
      const fs::file_status st = fs::status(real, ec);
      if (ec) {
        ec.clear();
        continue;
      }
      const std::string name = p.filename().string();
      if (fs::is_directory(st)) {
        folders.push_back(p);
      } else if (fs::is_regular_file(st)) {
        const std::string ext = lower(p.extension().string());
        const std::uintmax_t size = fs::file_size(real, ec);
        if (ec) {
          ec.clear();
          continue;
        }
        if (ext == ".gguf") add(p, "gguf", int64_t(size), {});
        if (ext == ".safetensors") {
          safetensors.push_back(p);
          tensorBytes += int64_t(size);
        }
        if (name == "config.json") config = true;
      }
    }
    // A Hugging Face model folder: config.json beside its .safetensors shards.
    if (config && !safetensors.empty() && dir != m_root)
      add(dir, "safetensors", tensorBytes, configArch(dir / "config.json"));
    if (depth >= kMaxListDepth) {
      if (!folders.empty()) m_out.truncated = true;
      return;
    }
    std::sort(folders.begin(), folders.end());
    for (const fs::path& f : folders) {
      if (full()) return;
      walk(f, depth + 1);
    }
  }

  ModelListing take() {
    std::sort(m_out.models.begin(), m_out.models.end(),
              [](const ListedModel& a, const ListedModel& b) { return a.path < b.path; });
    return std::move(m_out);
  }

 private:
  bool full() {
    if (int(m_out.models.size()) < kMaxListedModels) return false;
    m_out.truncated = true;
    return true;
  }
  void add(const fs::path& p, const char* format, int64_t bytes, std::string arch) {
    if (full()) return;
    // The path as the client names it: relative to the folder as listed (not the symlink's
    // target), so opening it resolves to the same file.
    m_out.models.push_back(
        {p.lexically_relative(m_root).generic_string(), format, bytes, std::move(arch)});
  }

  fs::path m_root;
  ModelListing m_out;
  int m_visits = 0;
};

}  // namespace

ModelListing listModels(const fs::path& root) {
  Walker w(root);
  w.walk(root, 0);
  return w.take();
}

}  // namespace ll::remote
