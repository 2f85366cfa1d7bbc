// loadModel(): picks the loader from what the path is (folder, GGUF magic, llama2.c .bin).
#include <cstring>
#include <fstream>

#include "runtime/model/loaders.h"

namespace ll::rt {

std::unique_ptr<Model> loadModel(const std::filesystem::path& path, const LoadProgress& progress,
                                 const std::filesystem::path& tokenizerPath) {
  const ProgressReporter report(progress);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return loadHfModel(path, report);
  if (!std::filesystem::exists(path, ec)) throw FormatError(path, "does not exist");
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FormatError(path, "cannot open");
    in.read(magic, 4);
  }
  if (std::memcmp(magic, "GGUF", 4) == 0) return loadGgufModel(path, report);
  // A file inside a Hugging Face folder (config.json, a safetensors shard) stands for the folder.
  if (path.extension() == ".safetensors" || path.filename() == "config.json" ||
      path.filename() == "model.safetensors.index.json")
    return loadHfModel(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path(),
                       report);
  if (path.extension() == ".bin") return loadLlama2cModel(path, tokenizerPath, report);
  if (path.extension() == ".gguf") return loadGgufModel(path, report);  // reports the bad magic
  throw FormatError(path,
                    "unrecognised model format (expected a .gguf file, a Hugging Face folder or a "
                    "llama2.c .bin)");
}

}  // namespace ll::rt
