#include "agent/rsp/packets/memory.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::StatusOr<MemoryRead> ParseRange(absl::string_view text) {
  const size_t comma = text.find(',');
  if (comma == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("memory range '", text, "' has no ','"));
  }
  absl::StatusOr<uint64_t> addr = ParseHex(text.substr(0, comma));
  if (!addr.ok()) return addr.status();
  absl::StatusOr<uint64_t> length = ParseHex(text.substr(comma + 1));
  if (!length.ok()) return length.status();
  return MemoryRead{*addr, *length};
}

absl::StatusOr<MemoryWrite> ParseWrite(absl::string_view args, bool binary) {
  const size_t colon = args.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError("memory write without ':' before its data");
  }
  absl::StatusOr<MemoryRead> range = ParseRange(args.substr(0, colon));
  if (!range.ok()) return range.status();
  absl::string_view payload = args.substr(colon + 1);
  absl::StatusOr<std::string> data = binary ? UnescapeBinary(payload) : HexDecode(payload);
  if (!data.ok()) return data.status();
  if (data->size() != range->length) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory write at 0x%x says %d bytes but carries %d", range->addr, range->length,
        data->size()));
  }
  return MemoryWrite{range->addr, *std::move(data)};
}

}  // namespace

absl::StatusOr<MemoryRead> ParseMemoryRead(absl::string_view args) { return ParseRange(args); }

absl::StatusOr<MemoryWrite> ParseMemoryWriteHex(absl::string_view args) {
  return ParseWrite(args, /*binary=*/false);
}

absl::StatusOr<MemoryWrite> ParseMemoryWriteBinary(absl::string_view args) {
  return ParseWrite(args, /*binary=*/true);
}

}  // namespace agent::rsp
