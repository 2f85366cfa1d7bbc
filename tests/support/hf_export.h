// Test fixtures: a GGUF model fixture written out as a Hugging Face folder (config.json,
// model.safetensors, tokenizer.json) with the test's own inverse of the loader's mapping: HF names,
// rotate-half Q/K rows for llama, one tensor per expert, Gemma norms minus one, phi3's LongRoPE
// factors as config lists. Loading the folder must give the GGUF's spec and tensors.
#pragma once

#include <filesystem>
#include <set>
#include <string>

namespace lltest {

struct HfExport {
  std::set<std::string> shifted;  // GGUF norms written as w - 1 (Gemma): expect (w - 1) + 1 back
  std::set<std::string> dropped;  // GGUF tensors that are config values in HF (rope factors)
};

// cls: the HF class (MixtralForCausalLM, Qwen2ForCausalLM, Qwen2MoeForCausalLM, OlmoeForCausalLM,
// Qwen3ForCausalLM, Qwen3MoeForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM).
// tokenizerJson is copied into the folder. Every fixture tensor must be F32.
HfExport exportHfFolder(const std::filesystem::path& gguf, const std::filesystem::path& dir,
                        const std::string& cls, const std::filesystem::path& tokenizerJson);

}  // namespace lltest
