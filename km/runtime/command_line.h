// Splitting km's command line: km's own flags come first, then the payload and its arguments,
// which km must not parse as its flags (`km --accel=tcg prog --help` passes --help to prog).
#pragma once

#include <string>
#include <vector>

namespace km {

struct SplitArgs {
  // argv[0] and km's flags, for absl::ParseCommandLine; they point into flag_storage.
  std::vector<char*> km_args;
  std::vector<std::string> flag_storage;
  std::vector<std::string> payload_argv;   // PAYLOAD ARGS..., empty if none was given
};

// The payload is the first argument that is neither a flag nor a flag's separate value
// ("--memory 2G"), or the argument after "--". A flag takes a separate value when it is a
// registered non-bool flag written without "=". Flag names may use dashes for absl's
// underscores (--debug-socket is --debug_socket), as users of gdb and KM expect.
SplitArgs SplitCommandLine(int argc, char** argv);

}  // namespace km
