// The model description `layerlens-cli info` prints (format, architecture, every ModelSpec field,
// tensor counts per type, tokenizer), built once for the CLI and the remote server.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/model/model.h"

namespace ll::rt {

// displayPath: the path as the user named the model (the server reports the client's relative one).
nlohmann::ordered_json modelInfoJson(const Model& model, const std::string& displayPath);

}  // namespace ll::rt
