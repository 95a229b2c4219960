#include "agent/rsp/framer.h"

#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

void Framer::Feed(absl::string_view bytes, std::vector<FramedItem>& out) {
  for (char c : bytes) {
    switch (state_) {
      case State::kIdle:
        if (c == '$') {
          state_ = State::kBody;
          body_.clear();
          oversized_ = false;
        } else if (c == '\x03') {
          out.push_back({FramedItem::Kind::kInterrupt, "", ""});
        } else if (c == '+') {
          out.push_back({FramedItem::Kind::kAck, "", ""});
        } else if (c == '-') {
          out.push_back({FramedItem::Kind::kNack, "", ""});
        }
        break;
      case State::kBody:
        if (c == '#') {
          state_ = State::kChecksumHigh;
        } else if (c == '$') {
          // A new start inside a packet: the sender gave up on the old one and began again.
          body_.clear();
          oversized_ = false;
        } else if (body_.size() >= max_packet_) {
          oversized_ = true;
        } else {
          body_.push_back(c);
        }
        break;
      case State::kChecksumHigh: {
        const int d = HexDigit(c);
        checksum_valid_ = d >= 0;
        checksum_ = d < 0 ? 0 : d << 4;
        state_ = State::kChecksumLow;
        break;
      }
      case State::kChecksumLow: {
        const int d = HexDigit(c);
        checksum_valid_ = checksum_valid_ && d >= 0;
        checksum_ |= d < 0 ? 0 : d;
        Finish(out);
        state_ = State::kIdle;
        break;
      }
    }
  }
}

void Framer::Finish(std::vector<FramedItem>& out) {
  if (oversized_) {
    out.push_back({FramedItem::Kind::kBadPacket, "",
                   absl::StrFormat("packet longer than %d bytes", max_packet_)});
    return;
  }
  if (check_checksums_) {
    const uint8_t want = Checksum(body_);
    if (!checksum_valid_ || checksum_ != want) {
      out.push_back({FramedItem::Kind::kBadPacket, "",
                     absl::StrFormat("bad checksum on packet '%s' (computed %02x)",
                                     body_.substr(0, 40), want)});
      return;
    }
  }
  out.push_back({FramedItem::Kind::kPacket, std::move(body_), ""});
  body_.clear();
}

}  // namespace agent::rsp
