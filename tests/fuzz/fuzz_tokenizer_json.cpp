// libFuzzer target: vocabFromTokenizerJson on arbitrary bytes; a vocabulary that parses is built
// into a tokenizer and used once, since makeTokenizer trusts what the reader accepted.
#include <stdexcept>

#include "fuzz_common.h"
#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& path = llfuzz::scratchFile(".json");
  llfuzz::writeFile(path, data, size);
  try {
    auto vocab = ll::rt::vocabFromTokenizerJson(path);
    auto tok = ll::rt::makeTokenizer(std::move(vocab));
    auto enc = tok->encode("Hello world! caf\xc3\xa9 123 <s>", -1, true);
    (void)tok->decode(enc.ids);
  } catch (const ll::rt::FormatError&) {
  } catch (const std::runtime_error&) {
    // makeTokenizer rejects vocabularies it cannot build (documented: std::runtime_error).
  }
  return 0;
}
