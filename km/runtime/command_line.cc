#include "km/runtime/command_line.h"

#include <algorithm>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace km {
namespace {

// "--debug-socket=x" → "--debug_socket=x": dashes in the name only, never in the value.
std::string Underscored(absl::string_view arg) {
  std::string out(arg);
  const size_t start = out.find_first_not_of('-');
  const size_t end = std::min(out.find('='), out.size());
  for (size_t i = start == std::string::npos ? end : start; i < end; i++) {
    if (out[i] == '-') out[i] = '_';
  }
  return out;
}

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
  // Reserved up front: km_args points into these strings.
  out.flag_storage.reserve(argc);
  if (argc > 0) out.km_args.push_back(argv[0]);
  int i = 1;
  for (; i < argc; i++) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      i++;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;
    const std::string& flag = out.flag_storage.emplace_back(Underscored(arg));
    out.km_args.push_back(const_cast<char*>(flag.c_str()));
    if (TakesSeparateValue(flag) && i + 1 < argc) out.km_args.push_back(argv[++i]);
  }
  for (; i < argc; i++) out.payload_argv.emplace_back(argv[i]);
  return out;
}

}  // namespace km
