// kmctl's commands, run one-shot from the command line or line by line in `kmctl session`.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/km_debug.grpc.pb.h"
#include "tools/kmctl/client.h"
#include "tools/kmctl/parse.h"

namespace kmctl {

struct Options {
  std::string socket;
  std::string elf;
  std::string out;  // mem read: write the raw bytes here instead of a hex dump
  std::string max;  // record on: the most instructions km keeps (empty: km's default)
  bool json = false;
  bool keep_going = false;  // session: go on after a failed command
  std::string line;  // session: the line as typed (a dprintf's format keeps its spaces)
};

// Takes --json, --elf, --out, --max, --debug-socket and --keep-going (as "--x V" or "--x=V")
// out of words, wherever they are, leaving the command and its arguments.
absl::Status TakeOptions(std::vector<std::string>& words, Options& options);

class Commands {
 public:
  // session may be null: control commands then fail with a usage error naming `session`.
  Commands(v1::Debug::Stub* stub, const AddressResolver* resolver, Session* session)
      : stub_(stub), resolver_(resolver), session_(session) {}

  // Runs one command (its words after option removal), printing to out.
  absl::Status Run(const std::vector<std::string>& words, const Options& options, std::ostream& out);

  // True once `detach` ended the session.
  bool detached() const { return detached_; }

 private:
  absl::Status Status(const Options& o, std::ostream& out);
  absl::Status Threads(const Options& o, std::ostream& out);
  absl::Status Regs(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Maps(const Options& o, std::ostream& out);
  absl::Status MemRead(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status MemWrite(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status StopThreads(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Resume(const std::vector<std::string>& args, v1::ResumeMode mode, const Options& o,
                      std::ostream& out);
  absl::Status Record(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status SetReg(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Trace(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Core(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Breakpoint(const std::string& command, const std::vector<std::string>& args,
                          const Options& o, std::ostream& out);
  absl::Status CatchSyscalls(const std::vector<std::string>& args, const Options& o,
                             std::ostream& out);
  absl::Status Wait(const std::vector<std::string>& args, const Options& o, std::ostream& out);
  absl::Status Detach(const Options& o, std::ostream& out);

  absl::StatusOr<int> Tid(const std::string& word) const;

  v1::Debug::Stub* stub_;
  const AddressResolver* resolver_;
  Session* session_;
  bool detached_ = false;
};

// The usage text, for `kmctl help` and usage errors.
std::string Usage();

}  // namespace kmctl
