// Splits the byte stream from gdb into what it carries: packets ("$body#cs"), acks ('+', '-')
// and interrupts (a raw 0x03 between packets). Bytes that fit none of these are skipped, as a
// serial line's noise would be.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace agent::rsp {

struct FramedItem {
  enum class Kind {
    kPacket,     // body holds the packet between '$' and '#', still escaped
    kBadPacket,  // error says why (checksum, size); gdb should be asked to resend
    kInterrupt,
    kAck,
    kNack,
  };
  Kind kind;
  std::string body;
  std::string error;
};

class Framer {
 public:
  // Longer packets are refused whole (their bytes are dropped up to the checksum).
  explicit Framer(size_t max_packet) : max_packet_(max_packet) {}

  // Consumes bytes and appends every item they complete, in order.
  void Feed(absl::string_view bytes, std::vector<FramedItem>& out);

  // Inside a packet: the stream ending now would truncate it.
  bool mid_packet() const { return state_ != State::kIdle; }

  // With no-ack mode the checksum is not checked: gdb does not send a valid one any more
  // than it waits for acks (the RSP allows both).
  void set_check_checksums(bool check) { check_checksums_ = check; }

 private:
  enum class State { kIdle, kBody, kChecksumHigh, kChecksumLow };

  void Finish(std::vector<FramedItem>& out);

  const size_t max_packet_;
  bool check_checksums_ = true;
  State state_ = State::kIdle;
  std::string body_;
  bool oversized_ = false;
  int checksum_ = 0;
  bool checksum_valid_ = true;
};

}  // namespace agent::rsp
