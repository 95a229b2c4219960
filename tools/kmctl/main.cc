// kmctl: a command-line client for km's debug service (see docs/kmctl.md).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/kmctl/client.h"
#include "tools/kmctl/commands.h"
#include "tools/kmctl/elf_symbols.h"
#include "tools/kmctl/errors.h"
#include "tools/kmctl/parse.h"

namespace kmctl {
namespace {

int Fail(const absl::Status& status, const std::string& where = "") {
  std::cerr << "kmctl: " << where << status.message() << "\n";
  return ExitCodeFor(status);
}

// Symbols for addresses; a PIE's are moved by the load bias km chose.
absl::StatusOr<AddressResolver> MakeResolver(const Options& options, v1::Debug::Stub* stub) {
  if (options.elf.empty()) return AddressResolver();
  absl::StatusOr<ElfSymbols> symbols = ReadElfSymbols(options.elf);
  if (!symbols.ok()) return UsageError(symbols.status().message());
  uint64_t bias = 0;
  if (symbols->pie) {
    v1::Target target;
    grpc::Status s = stub->GetTarget(CallContext().get(), {}, &target);
    if (!s.ok()) return RpcError("GetTarget", s);
    bias = target.load_bias();
  }
  return AddressResolver(std::move(*symbols), bias);
}

// One command per line from stdin, all within one session; blank lines and # comments are
// skipped. Output is flushed per command so that a script driving kmctl through a pipe sees
// each answer before it sends the next line.
int RunSession(v1::Debug::Stub* stub, const AddressResolver& resolver, const Options& options) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Start(stub);
  if (!session.ok()) return Fail(session.status());
  Commands commands(stub, &resolver, session->get());
  int exit_code = kExitOk;
  std::string line;
  for (int n = 1; !commands.detached() && std::getline(std::cin, line); n++) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipWhitespace());
    Options line_options = options;
    line_options.line = std::string(text);
    absl::Status s = TakeOptions(words, line_options);
    if (s.ok()) s = commands.Run(words, line_options, std::cout);
    std::cout.flush();
    if (s.ok()) continue;
    exit_code = Fail(s, "line " + std::to_string(n) + ": ");
    if (!options.keep_going || exit_code == kExitConnection) break;
  }
  if (!commands.detached()) {
    absl::Status s = (*session)->Detach();
    if (!s.ok() && exit_code == kExitOk) exit_code = Fail(s);
  }
  return exit_code;
}

int Main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  Options options;
  if (absl::Status s = TakeOptions(words, options); !s.ok()) return Fail(s);
  if (!words.empty() && (words[0] == "help" || words[0] == "-h")) {
    std::cout << Usage();
    return kExitOk;
  }
  if (options.socket.empty()) return Fail(UsageError("--debug-socket PATH is required (see kmctl help)"));
  if (words.empty()) return Fail(UsageError("no command given (see kmctl help)"));
  absl::StatusOr<std::unique_ptr<v1::Debug::Stub>> stub = Connect(options.socket);
  if (!stub.ok()) return Fail(stub.status());
  absl::StatusOr<AddressResolver> resolver = MakeResolver(options, stub->get());
  if (!resolver.ok()) return Fail(resolver.status());
  if (words[0] == "session") {
    if (words.size() != 1) return Fail(UsageError("usage: kmctl --debug-socket PATH session < SCRIPT"));
    return RunSession(stub->get(), *resolver, options);
  }
  Commands commands(stub->get(), &*resolver, nullptr);
  absl::Status s = commands.Run(words, options, std::cout);
  std::cout.flush();
  return s.ok() ? kExitOk : Fail(s);
}

}  // namespace
}  // namespace kmctl

int main(int argc, char** argv) { return kmctl::Main(argc, argv); }
