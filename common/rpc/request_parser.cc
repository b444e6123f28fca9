#include "common/rpc/request_parser.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/utf8.h"
#include "common/log/log.h"
#include "common/status/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/support/slice.h"
#include "spdlog/spdlog.h"

namespace crm::rpc {
namespace {

// The path (as FieldPathFor names it: map fields by the map's path, repeated fields without an
// index) of the first string field of `type` in the wire bytes `bytes` that is not valid UTF-8;
// empty if none (or the bytes are not well-formed wire data).
std::string FirstBadUtf8(const google::protobuf::Descriptor* type, absl::string_view bytes,
                         const std::string& prefix, int depth = 0) {
  if (depth > 64) return "";
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return "";
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& f = fields.field(i);
    if (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const google::protobuf::FieldDescriptor* field = type->FindFieldByNumber(f.number());
    if (field == nullptr) continue;
    const std::string path =
        prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      if (!base::IsValidUtf8(f.length_delimited())) return path;
    } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      std::string bad = FirstBadUtf8(field->message_type(), f.length_delimited(), path, depth + 1);
      if (!bad.empty()) return field->is_map() ? path : bad;
    }
  }
  return "";
}

}  // namespace

std::string FieldPathFor(const google::protobuf::Descriptor* root, const std::string& full_name) {
  struct Node {
    const google::protobuf::Descriptor* type;
    std::string path;
    std::string map_field_path;  // set when `type` is a map entry: the map field's path
  };
  std::deque<Node> queue{{root, "", ""}};
  std::vector<const google::protobuf::Descriptor*> seen;
  while (!queue.empty()) {
    Node node = std::move(queue.front());
    queue.pop_front();
    for (int i = 0; i < node.type->field_count(); ++i) {
      const auto* field = node.type->field(i);
      std::string path =
          node.path.empty() ? field->name() : absl::StrCat(node.path, ".", field->name());
      if (field->full_name() == full_name) {
        return node.map_field_path.empty() ? path : node.map_field_path;
      }
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
        const auto* sub = field->message_type();
        bool visited = false;
        for (const auto* s : seen) visited |= (s == sub);
        if (visited) continue;
        seen.push_back(sub);
        queue.push_back({sub, path, field->is_map() ? path : ""});
      }
    }
  }
  return "";
}

absl::Status ParseRequest(const std::string& bytes, google::protobuf::Message* message,
                          size_t max_bytes) {
  message->Clear();
  if (bytes.size() > max_bytes) {
    return status::InvalidArgument(
        "", absl::StrCat("request is ", bytes.size(), " bytes; the limit is ", max_bytes));
  }
  log::RouteLibraryLogs();  // protobuf's UTF-8 complaints: named by this parser instead
  if (message->ParseFromString(bytes)) return absl::OkStatus();
  // Refused: say which string field is not UTF-8, if that is why.
  const std::string path = FirstBadUtf8(message->GetDescriptor(), bytes, "");
  if (!path.empty()) return status::InvalidArgument(path, "is not valid UTF-8");
  return status::InvalidArgument("", "request is not a valid " + message->GetTypeName());
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* message,
                          size_t max_bytes) {
  if (bytes.Length() > max_bytes) {
    message->Clear();
    return status::InvalidArgument(
        "", absl::StrCat("request is ", bytes.Length(), " bytes; the limit is ", max_bytes));
  }
  std::vector<grpc::Slice> slices;
  grpc::Status dumped = bytes.Dump(&slices);
  if (!dumped.ok()) return status::InvalidArgument("", "request bytes could not be read");
  std::string flat;
  flat.reserve(bytes.Length());
  for (const auto& s : slices) flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return ParseRequest(flat, message, max_bytes);
}

grpc::ByteBuffer SerializeResponse(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace crm::rpc
