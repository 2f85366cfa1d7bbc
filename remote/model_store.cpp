// Model paths confined to the server's --models folder, and the shared loaded models (see
// model_store.h).
#include "remote/model_store.h"

#include "remote/limits.h"

namespace ll::remote {

namespace fs = std::filesystem;

ModelStore::ModelStore(const fs::path& root) {
  std::error_code ec;
  m_root = fs::canonical(root, ec);
  if (ec || !fs::is_directory(m_root))
    throw std::invalid_argument("--models: " + root.string() + " is not a folder");
}

fs::path ModelStore::resolve(const std::string& relative) const {
  if (relative.empty()) throw PathRefused("model path is empty");
  if (relative.size() > size_t(kMaxPathBytes)) throw PathRefused("model path is too long");
  if (relative.find('\0') != std::string::npos) throw PathRefused("model path contains NUL");
  const fs::path rel(relative);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    throw PathRefused("model path '" + relative +
                      "' is absolute: name it relative to the server's models folder");
  for (const auto& part : rel)
    if (part == "..")
      throw PathRefused("model path '" + relative + "' contains '..' (outside the models folder)");
  std::error_code ec;
  const fs::path full = fs::canonical(m_root / rel, ec);
  if (ec) throw PathMissing("no model '" + relative + "' in the server's models folder");
  // Symlinks inside the folder may lead anywhere: the resolved path must still be inside it.
  auto [rootEnd, fullIt] = std::mismatch(m_root.begin(), m_root.end(), full.begin(), full.end());
  if (rootEnd != m_root.end())
    throw PathRefused("model path '" + relative + "' leads outside the server's models folder");
  return full;
}

std::shared_ptr<const rt::Model> ModelStore::get(const std::string& relative) {
  const fs::path full = resolve(relative);
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto& slot = m_models[full.string()];
    if (!slot) slot = std::make_shared<Entry>();
    e = slot;
  }
  std::lock_guard<std::mutex> lock(e->loading);
  if (!e->model) e->model = rt::loadModel(full);
  return e->model;
}

}  // namespace ll::remote
