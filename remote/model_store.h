// The server's models: paths a client names are resolved inside the --models folder only
// (canonicalised, so `..`, absolute paths and symlinks that lead out are refused), and each model
// is loaded once and shared by every session that opens it.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/model/model.h"

namespace ll::remote {

// Thrown for a path the client may not open (outside the folder) or that does not exist there.
struct PathRefused : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct PathMissing : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ModelStore {
 public:
  explicit ModelStore(const std::filesystem::path& root);
  const std::filesystem::path& root() const { return m_root; }
  // The canonical file or folder for a client's relative path; throws PathRefused / PathMissing.
  std::filesystem::path resolve(const std::string& relative) const;
  // The model at a client's relative path, loaded on first use (concurrent first uses of one path
  // load it once).
  std::shared_ptr<const rt::Model> get(const std::string& relative);

 private:
  struct Entry {
    std::mutex loading;
    std::shared_ptr<const rt::Model> model;
  };
  std::filesystem::path m_root;
  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Entry>> m_models;
};

}  // namespace ll::remote
