// Chat-template family detection (chat_family.h): the marker tokens each family's template writes.
#include "runtime/tokenizer/chat_family.h"

namespace ll::rt {

std::string chatTemplateFamily(const std::string& t) {
  if (t.empty()) return {};
  auto has = [&](const char* s) { return t.find(s) != std::string::npos; };
  if (has("<|start_header_id|>")) return "llama3";
  if (has("<|start|>") && has("<|message|>")) return "harmony";  // gpt-oss
  if (has("<|im_start|>")) return "chatml";
  if (has("<start_of_turn>")) return "gemma";
  if (has("<|user|>") && has("<|end|>")) return "phi3";
  if (has("<|user|>")) return "zephyr";
  if (has("[INST]")) return "llama2";
  return {};
}

bool knownChatFamily(const std::string& family) {
  for (const char* f : {"llama3", "harmony", "chatml", "gemma", "phi3", "zephyr", "llama2"})
    if (family == f) return true;
  return false;
}

}  // namespace ll::rt
