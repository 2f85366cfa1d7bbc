// One function per supported family, each defined in its own file of this folder.
#pragma once

#include "runtime/model/arch.h"

namespace ll::rt::arch {

const ArchDesc& llama();
const ArchDesc& qwen2();
const ArchDesc& gpt2();
const ArchDesc& qwen2moe();
const ArchDesc& olmoe();
const ArchDesc& qwen3();
const ArchDesc& qwen3moe();
const ArchDesc& gemma2();
const ArchDesc& gemma3();
const ArchDesc& phi3();
const ArchDesc& gptOss();

}  // namespace ll::rt::arch
