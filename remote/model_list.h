// The server's model listing (ListModels): the .gguf files and Hugging Face safetensors folders
// under its --models folder, bounded in depth and count, never leaving the folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ll::remote {

constexpr int kMaxListDepth = 4;        // folders below --models that are looked into
constexpr int kMaxListedModels = 1000;  // models in one reply
constexpr int kMaxListVisits = 100000;  // directory entries looked at, listed or not

struct ListedModel {
  std::string path;    // relative to the models folder, '/'-separated (what OpenSession takes)
  std::string format;  // "gguf" or "safetensors"
  int64_t bytes = 0;   // the file's size; a folder's: its .safetensors files' sizes
  std::string arch;    // a safetensors folder's config.json model_type ("" when not known)
};

struct ModelListing {
  std::vector<ListedModel> models;  // sorted by path
  bool truncated = false;           // a bound was reached: there may be more
};

// root: the canonical models folder. Symlinks are followed only where they lead inside root;
// unreadable entries are skipped.
ModelListing listModels(const std::filesystem::path& root);

}  // namespace ll::remote
