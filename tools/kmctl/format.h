// What kmctl prints: text for people (aligned tables, hex dumps) and protobuf's JSON mapping,
// one document per line, for scripts.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "proto/km_debug.pb.h"

namespace kmctl {

namespace v1 = ::km::debug::v1;

std::string ToJson(const google::protobuf::Message& message);

std::string FormatStatus(const v1::Target& target);
std::string FormatThreads(const v1::ListThreadsResponse& threads);
std::string FormatMaps(const v1::Target& target);
std::string FormatEvent(const v1::Event& event);
std::string FormatStop(const v1::StopEvent& stop);
std::string FormatRecording(const v1::RecordingStatus& status);
std::string FormatTraceStatus(const v1::TraceStatus& status);
// A found frame: its general registers laid out as FormatRegisters lays them out, each memory
// block as a HexDump.
std::string FormatTraceFrame(const v1::TraceFrame& frame);
std::string HexDump(uint64_t addr, const std::string& data);

// The general registers named (all when names is empty); an unknown name is a usage error.
absl::StatusOr<std::string> FormatRegisters(const v1::Registers& regs,
                                            const std::vector<std::string>& names);
// The same selection as a JSON object in protobuf's mapping (uint64 as decimal strings).
absl::StatusOr<std::string> RegistersJson(const v1::Registers& regs,
                                          const std::vector<std::string>& names);
// Sets one general register by name.
absl::Status SetRegister(v1::Registers& regs, const std::string& name, uint64_t value);

// The Debug service and its methods, from the descriptor compiled into kmctl.
std::string FormatService();
std::string ServiceJson();

}  // namespace kmctl
