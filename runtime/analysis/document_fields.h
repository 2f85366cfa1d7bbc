// The checked reader of an analysis document that came from elsewhere (a server's Analyze reply):
// every field required, its type, range and array length checked, errors naming the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/analysis/analysis_call.h"

namespace ll::rt::ana {

class DocFields {
 public:
  // what: the document's name in messages ("patch document").
  DocFields(std::string what, const nlohmann::json& j);
  int64_t integer(const char* key, int64_t lo, int64_t hi) const;
  double number(const char* key) const;
  std::string text(const char* key) const;
  bool has(const char* key) const { return m_j.contains(key); }
  // An array of exactly n numbers (n < 0: any length up to maxCount).
  std::vector<double> numbers(const char* key, int64_t n, size_t maxCount = 1 << 20) const;
  // The value of a key that must be an object (a nested document).
  DocFields object(const char* key) const;
  const nlohmann::json& at(const char* key) const;
  [[noreturn]] void bad(const char* key, const std::string& what) const;

 private:
  std::string m_what;
  const nlohmann::json& m_j;
};

// The side array named name with exactly this shape; throws naming the array otherwise.
const OutputArray& outputArrayOf(const std::vector<OutputArray>& arrays, const std::string& name,
                                 const std::vector<int64_t>& shape, const std::string& what);

}  // namespace ll::rt::ana
