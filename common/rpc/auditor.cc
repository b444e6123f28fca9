#include "common/rpc/auditor.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace crm::rpc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr absl::string_view kPrefix = "customers/";

bool IsReferenceField(absl::string_view name) {
  return name == "name" || name == "customer" || name == "parent" || name == "resource" ||
         name == "aggregate";
}

class Collector {
 public:
  void Add(absl::string_view id) {
    if (id.empty() || id == "-") return;
    std::string name = absl::StrCat(kPrefix, id);
    if (seen_.insert(name).second) out_.push_back(std::move(name));
  }

  // A string field's value.
  void Value(const FieldDescriptor& field, absl::string_view value) {
    if (field.name() == "customer_id") {
      Add(value);
    } else if (IsReferenceField(field.name()) && absl::ConsumePrefix(&value, kPrefix)) {
      Add(value.substr(0, value.find('/')));
    }
  }

  void Walk(const Message& message) {
    const google::protobuf::Reflection* reflection = message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);  // the fields that are set, in number order
    for (const FieldDescriptor* field : fields) {
      if (field->is_map()) continue;
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        if (field->is_repeated()) {
          const int n = reflection->FieldSize(message, field);
          for (int i = 0; i < n; ++i) Walk(reflection->GetRepeatedMessage(message, field, i));
        } else {
          Walk(reflection->GetMessage(message, field));
        }
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
                 field->type() == FieldDescriptor::TYPE_STRING) {
        std::string scratch;
        if (field->is_repeated()) {
          const int n = reflection->FieldSize(message, field);
          for (int i = 0; i < n; ++i) {
            Value(*field, reflection->GetRepeatedStringReference(message, field, i, &scratch));
          }
        } else {
          Value(*field, reflection->GetStringReference(message, field, &scratch));
        }
      }
    }
  }

  std::vector<std::string> Take() { return std::move(out_); }

 private:
  std::set<std::string> seen_;
  std::vector<std::string> out_;
};

}  // namespace

std::vector<std::string> CustomersIn(const google::protobuf::Message& response) {
  Collector collector;
  collector.Walk(response);
  return collector.Take();
}

std::vector<std::string> EveryCustomer(const google::protobuf::Message&) {
  return {kEveryCustomer};
}

}  // namespace crm::rpc
