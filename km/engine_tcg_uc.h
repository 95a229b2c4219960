// Small helpers around the Unicorn C API shared by the tcg engine's files.
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace km::tcg {

// Turns a Unicorn error into a Status saying what failed (what should name the call and its
// subject, e.g. "uc_mem_map_ptr 0x400000+0x1000").
inline absl::Status UcStatus(uc_err err, absl::string_view what) {
  if (err == UC_ERR_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("tcg: ", what, ": ", uc_strerror(err)));
}

// uc_hook_add takes callbacks as void*.
template <typename Fn>
void* HookCallback(Fn* fn) {
  return reinterpret_cast<void*>(fn);
}

// Unicorn never reaches this address: emulation ends only through our hooks.
inline constexpr uint64_t kNoUntil = ~uint64_t{0};

}  // namespace km::tcg
