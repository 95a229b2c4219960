#include "agent/server/gdb_session.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/framer.h"
#include "agent/rsp/packet_writer.h"

namespace agent {
namespace {

// The RSP side of a connection: framing, acks and no-ack mode, retransmission.
class Wire {
 public:
  explicit Wire(Connection& conn) : conn_(conn), framer_(kPacketSize + 64) {}

  absl::Status Send(absl::string_view payload) {
    if (Verbose()) Log(absl::StrCat("-> ", payload.substr(0, 200)));
    last_sent_ = rsp::Frame(payload);
    return conn_.Write(last_sent_);
  }
  absl::Status Resend() { return conn_.Write(last_sent_); }
  // Notifications are not acknowledged, so never resent.
  absl::Status Notify(absl::string_view name, absl::string_view event) {
    if (Verbose()) Log(absl::StrCat("-> %", name, ":", event.substr(0, 200)));
    return conn_.Write(rsp::FrameNotification(name, event));
  }
  absl::Status Ack(bool good) {
    if (no_ack_) return absl::OkStatus();
    return conn_.Write(good ? "+" : "-");
  }
  void StopAcking() {
    no_ack_ = true;
    framer_.set_check_checksums(false);
  }
  rsp::Framer& framer() { return framer_; }

 private:
  Connection& conn_;
  rsp::Framer framer_;
  bool no_ack_ = false;
  std::string last_sent_;
};

// Answers one item from gdb. Returns false when the connection should end.
absl::Status HandleItem(const rsp::FramedItem& item, ExtendedMode& handlers, Wire& wire) {
  switch (item.kind) {
    case rsp::FramedItem::Kind::kAck:
      return absl::OkStatus();
    case rsp::FramedItem::Kind::kNack:
      return wire.Resend();
    case rsp::FramedItem::Kind::kBadPacket:
      Log(item.error);
      return wire.Ack(false);
    case rsp::FramedItem::Kind::kInterrupt:
      if (std::optional<std::string> stop = handlers.Interrupt()) return wire.Send(*stop);
      return absl::OkStatus();
    case rsp::FramedItem::Kind::kPacket:
      break;
  }
  if (Verbose()) Log(absl::StrCat("<- ", absl::string_view(item.body).substr(0, 200)));
  if (absl::Status s = wire.Ack(true); !s.ok()) return s;
  if (item.body == "vCtrlC") {
    if (absl::Status s = wire.Send("OK"); !s.ok()) return s;
    if (std::optional<std::string> stop = handlers.Interrupt()) return wire.Send(*stop);
    return absl::OkStatus();
  }
  if (handlers.running()) {
    // All-stop: gdb waits for the stop reply; anything else now is a confused peer.
    return wire.Send("E01");
  }
  Response r = handlers.Handle(item.body);
  for (const std::string& packet : r.packets) {
    if (absl::Status s = wire.Send(packet); !s.ok()) return s;
  }
  if (item.body == "QStartNoAckMode") wire.StopAcking();
  return absl::OkStatus();
}

// Non-stop: the stop gdb is to hear of now, if any (one at a time; see StopNotifications).
absl::Status SendNotification(ExtendedMode& handlers, Wire& wire) {
  if (std::optional<std::string> stop = handlers.TakeNotification()) {
    return wire.Notify("Stop", *stop);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SessionEnd> ServeGdb(Connection& gdb, Target& target) {
  ExtendedMode processes(/*source=*/nullptr);
  if (absl::Status s = processes.AdoptBorrowed(target, /*attached=*/true); !s.ok()) return s;
  return ServeGdb(gdb, processes);
}

absl::StatusOr<SessionEnd> ServeGdb(Connection& gdb, ExtendedMode& handlers) {
  Log(absl::StrCat("gdb connected (", gdb.peer(), ")"));

  Wire wire(gdb);
  std::vector<rsp::FramedItem> items;
  absl::Status failure;
  while (failure.ok()) {
    // No process (extended mode between runs): a negative fd is not polled.
    pollfd fds[2] = {{gdb.in_fd(), POLLIN, 0}, {handlers.event_fd(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      failure = absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
      break;
    }
    if (fds[1].revents != 0) {
      for (const std::string& stop : handlers.TakeEvents()) failure = wire.Send(stop);
      if (failure.ok()) failure = SendNotification(handlers, wire);
    }
    if (fds[0].revents == 0) continue;
    absl::StatusOr<std::string> bytes = gdb.Read(kPacketSize);
    if (!bytes.ok()) {
      failure = bytes.status();
      break;
    }
    if (bytes->empty()) {  // gdb closed the connection
      if (wire.framer().mid_packet()) Log("gdb's connection ended in the middle of a packet");
      break;
    }
    items.clear();
    wire.framer().Feed(*bytes, items);
    for (const rsp::FramedItem& item : items) {
      failure = HandleItem(item, handlers, wire);
      if (!failure.ok()) break;
    }
    if (failure.ok()) failure = SendNotification(handlers, wire);
  }
  if (!failure.ok()) Log(failure.message());
  const SessionEnd end = handlers.Disconnect();
  Log(end == SessionEnd::kPayloadGone ? "gdb disconnected; the payload is gone"
                                      : "gdb disconnected; the payload runs on");
  return end;
}

}  // namespace agent
