// Bounds on km's resident memory in load and fault-injection tests, which mean something only
// in a build without a sanitizer: ASan keeps freed memory in a quarantine (up to 256 MB) and
// TSan grows its shadow and access history with everything km touches, so under them RSS
// growth says nothing about a leak. The plain build, which CI runs too, checks the bounds.
#pragma once

#include <iostream>
#include <string>

#include "gtest/gtest.h"

namespace km_test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr const char* kRssUncheckedBecause = "built with ASan, whose quarantine holds freed memory";
#elif defined(__SANITIZE_THREAD__)
inline constexpr const char* kRssUncheckedBecause = "built with TSan, whose shadow memory grows with use";
#else
inline constexpr const char* kRssUncheckedBecause = nullptr;
#endif

// Expects km's RSS to have grown by less than limit_kb, or prints why that is not checked here.
inline void ExpectRssGrowthBelow(long before_kb, long after_kb, long limit_kb,
                                 const std::string& what) {
  if (kRssUncheckedBecause != nullptr) {
    std::cout << "RSS bound NOT checked (" << kRssUncheckedBecause << "): " << what << ": km went from "
              << before_kb << " to " << after_kb << " kB\n";
    return;
  }
  EXPECT_LT(after_kb - before_kb, limit_kb)
      << what << ": km went from " << before_kb << " to " << after_kb << " kB";
}

}  // namespace km_test
