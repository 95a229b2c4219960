#include "tools/testing/held_payload.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/engines.h"

extern char** environ;

namespace km_test {

std::map<std::string, uint64_t> TargetSymbols() {
  std::map<std::string, uint64_t> symbols;
  std::ifstream in(Runfile("km_hooks/target.syms"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, type, name;
    if (fields >> addr >> type >> name) symbols[name] = std::stoull(addr, nullptr, 16);
  }
  return symbols;
}

absl::StatusOr<std::unique_ptr<HeldPayload>> HeldPayload::Start(
    const std::string& engine, const std::string& payload_runfile,
    const std::vector<std::string>& args) {
  static int counter = 0;
  // Tests run in a pid namespace: pid and counter alone may match a file an earlier run left.
  const std::string socket = absl::StrFormat("/tmp/km-tools-test-%d-%d-%d.sock", getpid(),
                                             counter++, absl::ToUnixMicros(absl::Now()) % 1000000);
  unlink(socket.c_str());
  const std::string payload = Runfile(payload_runfile);
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string log = absl::StrFormat("%s/km-%d", tmp != nullptr ? tmp : "/tmp", counter);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) env.emplace_back(*e);
  std::vector<std::string> argv = {Runfile("km/km"), "--accel=" + engine, "--debug-socket",
                                   socket, "--debug-wait", payload};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<Child> km = Child::Start(argv, env, log + ".out", log + ".err");
  if (!km.ok()) return km.status();
  std::unique_ptr<HeldPayload> held(new HeldPayload(*std::move(km), socket, payload));
  struct stat st;
  for (int i = 0; i < 500 && stat(socket.c_str(), &st) != 0; i++) {
    if (held->Wait(absl::Milliseconds(10)) >= 0) break;
  }
  if (stat(socket.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrFormat("km made no socket at %s; its stderr: %s", socket, held->Err()));
  }
  return held;
}

HeldPayload::~HeldPayload() { unlink(socket_.c_str()); }

}  // namespace km_test
