// km: runs a static x86-64 Linux ELF payload in its own VM and exits with its status.
//   km [--accel=auto|kvm|tcg] [--memory=SIZE] PAYLOAD [ARGS...]
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "km/layout.h"
#include "km/runtime/command_line.h"
#include "km/runtime/flag_types.h"
#include "km/runtime/process.h"

ABSL_FLAG(km::Accel, accel, km::Accel::kAuto,
          "how to run guest code: kvm (/dev/kvm), tcg (software CPU), or auto (kvm if /dev/kvm "
          "opens, else tcg)");
ABSL_FLAG(km::MemorySize, memory, km::MemorySize{km::kDefaultMemorySize},
          "guest memory size, e.g. 512M or 2G");

extern char** environ;

namespace {

constexpr char kUsage[] = "km [flags] PAYLOAD [ARGS...]: runs a static x86-64 Linux ELF";

void PrintLine(const std::string& line) {
  std::fprintf(stderr, "%s%s\n", absl::StartsWith(line, "km:") ? "" : "km: ", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  km::SplitArgs split = km::SplitCommandLine(argc, argv);
  absl::ParseCommandLine(static_cast<int>(split.km_args.size()), split.km_args.data());
  if (split.payload_argv.empty()) {
    std::fprintf(stderr, "usage: %s\n", kUsage);
    return 2;
  }

  km::ProcessOptions options;
  options.payload = split.payload_argv[0];
  options.argv = split.payload_argv;
  for (char** env = environ; *env != nullptr; env++) options.envp.emplace_back(*env);
  options.accel = absl::GetFlag(FLAGS_accel);
  options.memory_size = absl::GetFlag(FLAGS_memory).bytes;

  std::string notice;
  absl::StatusOr<std::unique_ptr<km::Process>> process = km::Process::Create(options, &notice);
  if (!notice.empty()) PrintLine(notice);
  if (!process.ok()) {
    PrintLine(std::string(process.status().message()));
    return 1;
  }
  // Threads may be blocked in host syscalls when the payload ends: km leaves without joining
  // them or destroying the Process they use.
  (*process)->set_exit_handler([](int status) {
    std::fflush(nullptr);
    _exit(status);
  });
  return process->release()->Run();
}
