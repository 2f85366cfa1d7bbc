// Minimal Qt-free test harness for the runtime and kernels (unit, parity, cuda, fuzz corpus).
// Those layers are tested without Qt so the same tests build and run on GPU machines that have no
// Qt (-DLAYERLENS_GUI=OFF). Macro names and output follow Qt Test (QVERIFY, QCOMPARE, QSKIP,
// "Totals: N passed, N failed, N skipped") so both kinds of test read alike under ctest.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace lltest {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}

struct Failure {
  std::string msg;
};
struct Skip {
  std::string msg;
};

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) {
    registry().push_back({name, std::move(fn)});
  }
};

template <class T>
std::string show(const T& v) {
  std::ostringstream os;
  if constexpr (requires { os << v; }) {
    os << v;
  } else {
    os << "<value>";
  }
  return os.str();
}

// QCOMPARE's operands: lvalues stay references, rvalues become values. A const reference would
// dangle for an xvalue into a temporary (QCOMPARE(*f->getString(k), s): the optional dies at the
// end of the declaration), which ASan reports as stack-use-after-scope.
template <class T>
T hold(T&& v) {
  return std::forward<T>(v);
}

[[noreturn]] inline void fail(const std::string& what, const char* file, int line) {
  std::ostringstream os;
  os << what << "\n   Loc: [" << file << "(" << line << ")]";
  throw Failure{os.str()};
}

// The folder with models/ and reference/ (../shared); empty when absent.
inline std::filesystem::path sharedDir() {
  const char* env = std::getenv("LAYERLENS_SHARED_DIR");
  std::filesystem::path p = env ? env : "../shared";
  std::error_code ec;
  if (std::filesystem::is_directory(p / "models", ec)) return std::filesystem::canonical(p, ec);
  return {};
}

inline int runAll(const char* suite, int argc, char** argv) {
  int passed = 0, failed = 0, skipped = 0;
  std::string only = argc > 1 ? argv[1] : "";
  std::printf("********* Start testing of %s *********\n", suite);
  for (auto& c : registry()) {
    if (!only.empty() && only != c.name) continue;
    try {
      c.fn();
      std::printf("PASS   : %s::%s()\n", suite, c.name);
      ++passed;
    } catch (const Skip& s) {
      std::printf("SKIP   : %s::%s() %s\n", suite, c.name, s.msg.c_str());
      ++skipped;
    } catch (const Failure& f) {
      std::printf("FAIL!  : %s::%s() %s\n", suite, c.name, f.msg.c_str());
      ++failed;
    } catch (const std::exception& e) {
      std::printf("FAIL!  : %s::%s() unexpected exception: %s\n", suite, c.name, e.what());
      ++failed;
    }
    std::fflush(stdout);
  }
  std::printf("Totals: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  std::printf("********* Finished testing of %s *********\n", suite);
  return failed == 0 ? 0 : 1;
}

}  // namespace lltest

#define LL_CAT2(a, b) a##b
#define LL_CAT(a, b) LL_CAT2(a, b)

// LL_TEST(name) { body }  — one test function, registered at static-init time.
#define LL_TEST(name)                                             \
  static void name();                                             \
  static ::lltest::Registrar LL_CAT(ll_reg_, name)(#name, &name); \
  static void name()

#define LL_TEST_MAIN(suite)                     \
  int main(int argc, char** argv) {             \
    return ::lltest::runAll(suite, argc, argv); \
  }

#define QVERIFY(cond)                                                               \
  do {                                                                              \
    if (!(cond)) ::lltest::fail("'" #cond "' returned FALSE.", __FILE__, __LINE__); \
  } while (0)

#define QVERIFY2(cond, message)                                                                 \
  do {                                                                                          \
    if (!(cond))                                                                                \
      ::lltest::fail(std::string("'" #cond "' returned FALSE. (") + std::string(message) + ")", \
                     __FILE__, __LINE__);                                                       \
  } while (0)

#define QCOMPARE(actual, expected)                                                             \
  do {                                                                                         \
    decltype(auto) ll_a = ::lltest::hold(actual);                                              \
    decltype(auto) ll_e = ::lltest::hold(expected);                                            \
    if (!(ll_a == ll_e))                                                                       \
      ::lltest::fail(                                                                          \
          std::string("Compared values are not the same\n   Actual   (" #actual "): ") +       \
              ::lltest::show(ll_a) + "\n   Expected (" #expected "): " + ::lltest::show(ll_e), \
          __FILE__, __LINE__);                                                                 \
  } while (0)

#define QFAIL(message) ::lltest::fail(std::string(message), __FILE__, __LINE__)

#define QSKIP(message)   \
  throw ::lltest::Skip { \
    std::string(message) \
  }

// Skips the current test when ../shared is absent (a fresh checkout still passes).
#define LL_REQUIRE_SHARED()                                                                        \
  ([]() {                                                                                          \
    auto p = ::lltest::sharedDir();                                                                \
    if (p.empty()) QSKIP("../shared (models and references) not found: set LAYERLENS_SHARED_DIR"); \
    return p;                                                                                      \
  }())

namespace lltest {

// A per-process folder under the system temp dir ("<temp>/<prefix><pid>"), removed when the test
// binary exits, also after a failed comparison. Declare one at namespace scope.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix)
      : m_path(std::filesystem::temp_directory_path() /
               (prefix + std::to_string(static_cast<long long>(::getpid())))) {}
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

}  // namespace lltest
