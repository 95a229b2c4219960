// The payload's /proc/PID files, as km sees the payload: gdb asks for /proc/PID/... with km's
// pid (the payload's pid to gdb), and the host's files of that pid describe km.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "agent/handlers/handlers.h"

namespace agent {
namespace {

// What /proc/PID/maps names a region by: the payload's file for its loaded segments, the
// kernel's bracketed names for heap and stack, nothing for anonymous mappings.
std::string MapsName(const Region& r, const std::string& payload_path) {
  if (r.kind == "text" || r.kind == "data") return payload_path;
  if (r.kind == "heap") return "[heap]";
  if (r.kind == "stack") return "[stack]";
  return "";
}

}  // namespace

std::optional<absl::StatusOr<std::string>> Handlers::ProcFile(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, absl::StrCat("/proc/", info_.pid, "/"))) return std::nullopt;
  if (path == "cmdline") {
    std::string out;
    for (const std::string& arg : info_.argv) absl::StrAppend(&out, arg, std::string(1, '\0'));
    return out;
  }
  if (path == "maps") {
    // Asked afresh: the payload maps and unmaps memory as it runs.
    absl::StatusOr<TargetInfo> info = target_.GetTarget();
    if (!info.ok()) return info.status();
    std::string out;
    for (const Region& r : info->regions) {
      absl::StrAppendFormat(&out, "%08x-%08x %c%c%cp 00000000 00:00 0", r.start, r.start + r.size,
                            r.read ? 'r' : '-', r.write ? 'w' : '-', r.exec ? 'x' : '-');
      const std::string name = MapsName(r, info->payload_path);
      absl::StrAppend(&out, name.empty() ? "" : absl::StrCat("    ", name), "\n");
    }
    return out;
  }
  // What these would add (page counts, flags) km does not keep; gcore and `info proc` then use
  // maps instead, as they do on kernels without them.
  if (path == "smaps" || path == "numa_maps") {
    return absl::NotFoundError(absl::StrCat("/proc/PID/", path, " is not kept for a km payload"));
  }
  return std::nullopt;
}

std::optional<std::string> Handlers::ProcLink(absl::string_view path) {
  if (path == absl::StrCat("/proc/", info_.pid, "/exe")) return info_.payload_path;
  return std::nullopt;
}

}  // namespace agent
