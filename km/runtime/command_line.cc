#include "km/runtime/command_line.h"

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace km {
namespace {

// Whether arg ("--name" or "-name", no "=") is a flag whose value is the next argument.
bool TakesSeparateValue(absl::string_view arg) {
  absl::string_view name = arg;
  name.remove_prefix(absl::StartsWith(name, "--") ? 2 : 1);
  if (absl::StrContains(name, '=')) return false;
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && !flag->IsOfType<bool>();
}

}  // namespace

SplitArgs SplitCommandLine(int argc, char** argv) {
  SplitArgs out;
  if (argc > 0) out.km_args.push_back(argv[0]);
  int i = 1;
  for (; i < argc; i++) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      i++;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;
    out.km_args.push_back(argv[i]);
    if (TakesSeparateValue(arg) && i + 1 < argc) out.km_args.push_back(argv[++i]);
  }
  for (; i < argc; i++) out.payload_argv.emplace_back(argv[i]);
  return out;
}

}  // namespace km
