// Records written before the events owned their types (when payloads embedded crm.v1 messages
// and enums: CustomerRegistered.profile was a crm.v1.Customer, StaffRef a crm.v1.StaffRef, ...)
// must read exactly as they were written: the event-owned types kept every field number, wire
// type, field name and enum value of what they replaced. Each golden record below was serialized
// with that earlier schema, with every field its decide side writes set; its text is how that
// schema printed it.

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "crm/events/v1/envelope.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace crm::events::v1 {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

struct Golden {
  const char* event_type;
  // The record as the earlier schema wrote it, hex.
  const char* hex;
  // How the earlier schema printed it (text format, one line).
  const char* text;
};

// clang-format off
const Golden kGoldens[] = {
    {"CustomerRegistered",
     "0a026531120263311801522063726d2e6576656e74732e76312e437573746f6d6572526567697374657265645801a2015a0a56120441636d651802220e614061636d652e6578616d706c65220e624061636d652e6578616d706c652a0e2b383631333830303133383030303204456173743a0652657461696c40034a0c0a04746965721204676f6c641002",
     R"pb(event_id: "e1" customer_id: "c1" aggregate_version: 1 event_type: "crm.events.v1.CustomerRegistered" schema_version: 1 customer_registered { profile { display_name: "Acme" kind: COMPANY emails: "a@acme.example" emails: "b@acme.example" phones: "+8613800138000" region: "East" industry: "Retail" acquisition_source: REFERRAL attributes { key: "tier" value: "gold" } } lifecycle_stage: FIRST_CONTACT })pb"},
    {"CustomerProfileUpdated",
     "0a026532120263311802522463726d2e6576656e74732e76312e437573746f6d657250726f66696c65557064617465645801aa01380a0c646973706c61795f6e616d650a046b696e640a126163717569736974696f6e5f736f75726365120e120841636d65204c746418014007",
     R"pb(event_id: "e2" customer_id: "c1" aggregate_version: 2 event_type: "crm.events.v1.CustomerProfileUpdated" schema_version: 1 customer_profile_updated { changed_paths: "display_name" changed_paths: "kind" changed_paths: "acquisition_source" profile { display_name: "Acme Ltd" kind: PERSON acquisition_source: OTHER_SOURCE } })pb"},
    {"LifecycleStageChanged",
     "0a026533120263311803522363726d2e6576656e74732e76312e4c6966656379636c6553746167654368616e6765645801b2010a080210071a04676f6e65",
     R"pb(event_id: "e3" customer_id: "c1" aggregate_version: 3 event_type: "crm.events.v1.LifecycleStageChanged" schema_version: 1 lifecycle_stage_changed { from_stage: FIRST_CONTACT to_stage: CHURNED reason: "gone" })pb"},
    {"PurchaseRecorded",
     "0a026534120263311804521e63726d2e6576656e74732e76312e50757263686173655265636f726465645801d201250a210a036f2d3112080a03434e5910b9601a0657696467657422080880e2cfaa0610051002",
     R"pb(event_id: "e4" customer_id: "c1" aggregate_version: 4 event_type: "crm.events.v1.PurchaseRecorded" schema_version: 1 purchase_recorded { purchase { purchase_id: "o-1" amount { currency_code: "CNY" amount_minor: 12345 } product: "Widget" purchased_at { seconds: 1700000000 nanos: 5 } } new_value_tier: ORDINARY })pb"},
    {"InteractionLogged",
     "0a026531120263311801521f63726d2e6576656e74732e76312e496e746572616374696f6e4c6f676765645801621c637573746f6d6572732f63312f696e746572616374696f6e732f6931c20284010a620a1c637573746f6d6572732f63312f696e746572616374696f6e732f693110041802220273312a060880e2cfaa06320643616c6c65643a064167726565644206088085d5aa065a1a637573746f6d6572732f63312f636f6d706c61696e74732f6b31121e0a02733112087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e1" customer_id: "c1" aggregate_version: 1 event_type: "crm.events.v1.InteractionLogged" schema_version: 1 aggregate: "customers/c1/interactions/i1" interaction_logged { interaction { name: "customers/c1/interactions/i1" channel: SOCIAL_MEDIA direction: OUTBOUND staff_id: "s1" occurred_at { seconds: 1700000000 } summary: "Called" outcome: "Agreed" follow_up_due_time { seconds: 1700086400 } complaint: "customers/c1/complaints/k1" } staff { staff_id: "s1" team: "teams/t1" department: "departments/d1" } })pb"},
    {"FollowUpCompleted",
     "0a026532120263311802521f63726d2e6576656e74732e76312e466f6c6c6f775570436f6d706c657465645801621c637573746f6d6572732f63312f696e746572616374696f6e732f6931ca022e0a060890a1d5aa061204646f6e651a1e0a02733212087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e2" customer_id: "c1" aggregate_version: 2 event_type: "crm.events.v1.FollowUpCompleted" schema_version: 1 aggregate: "customers/c1/interactions/i1" follow_up_completed { complete_time { seconds: 1700090000 } note: "done" staff { staff_id: "s2" team: "teams/t1" department: "departments/d1" } })pb"},
    {"ComplaintFiled",
     "0a026531120263311801521c63726d2e6576656e74732e76312e436f6d706c61696e7446696c65645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31920325080710041803220d436861726765642074776963652a060890fecfaa063206088085d5aa06",
     R"pb(event_id: "e1" customer_id: "c1" aggregate_version: 1 event_type: "crm.events.v1.ComplaintFiled" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_filed { channel: OFFLINE_EVENT category: BILLING severity: SEVERE description: "Charged twice" response_due_time { seconds: 1700003600 } resolution_due_time { seconds: 1700086400 } })pb"},
    {"ComplaintAcknowledged",
     "0a026532120263311802522363726d2e6576656e74732e76312e436f6d706c61696e7441636b6e6f776c65646765645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b319a03200a1e0a02733112087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e2" customer_id: "c1" aggregate_version: 2 event_type: "crm.events.v1.ComplaintAcknowledged" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_acknowledged { responder { staff_id: "s1" team: "teams/t1" department: "departments/d1" } })pb"},
    {"ComplaintAssigned",
     "0a026533120263311803521f63726d2e6576656e74732e76312e436f6d706c61696e7441737369676e65645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31a203240a1e0a02733212087465616d732f74311a0e6465706172746d656e74732f643112027331",
     R"pb(event_id: "e3" customer_id: "c1" aggregate_version: 3 event_type: "crm.events.v1.ComplaintAssigned" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_assigned { assignee { staff_id: "s2" team: "teams/t1" department: "departments/d1" } previous_assignee: "s1" })pb"},
    {"ComplaintInvestigationStarted",
     "0a026534120263311804522b63726d2e6576656e74732e76312e436f6d706c61696e74496e7665737469676174696f6e537461727465645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31aa03200a1e0a02733212087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e4" customer_id: "c1" aggregate_version: 4 event_type: "crm.events.v1.ComplaintInvestigationStarted" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_investigation_started { assignee { staff_id: "s2" team: "teams/t1" department: "departments/d1" } })pb"},
    {"ComplaintResolved",
     "0a026535120263311805521f63726d2e6576656e74732e76312e436f6d706c61696e745265736f6c7665645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31b2032c0a08526566756e64656410081a1e0a02733212087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e5" customer_id: "c1" aggregate_version: 5 event_type: "crm.events.v1.ComplaintResolved" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_resolved { resolution: "Refunded" root_cause: OTHER_ROOT_CAUSE resolver { staff_id: "s2" team: "teams/t1" department: "departments/d1" } })pb"},
    {"ComplaintFollowUpVisitRecorded",
     "0a026536120263311806522c63726d2e6576656e74732e76312e436f6d706c61696e74466f6c6c6f77557056697369745265636f726465645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31ba03320a10080110041a026f6b220608a0efd5aa06121e0a02733212087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e6" customer_id: "c1" aggregate_version: 6 event_type: "crm.events.v1.ComplaintFollowUpVisitRecorded" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_follow_up_visit_recorded { visit { satisfied: true csat: 4 comment: "ok" visit_time { seconds: 1700100000 } } resolver { staff_id: "s2" team: "teams/t1" department: "departments/d1" } })pb"},
    {"ComplaintEscalated",
     "0a026537120263311807522063726d2e6576656e74732e76312e436f6d706c61696e74457363616c617465645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31d203420802121e0a02733212087465616d732f74311a0e6465706172746d656e74732f64311a140a0273331a0e6465706172746d656e74732f643222046c61746528013002",
     R"pb(event_id: "e7" customer_id: "c1" aggregate_version: 7 event_type: "crm.events.v1.ComplaintEscalated" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_escalated { level: 2 from { staff_id: "s2" team: "teams/t1" department: "departments/d1" } to { staff_id: "s3" department: "departments/d2" } reason: "late" automatic: true sla_kind: RESOLUTION })pb"},
    {"ComplaintSlaBreached",
     "0a026538120263311808522263726d2e6576656e74732e76312e436f6d706c61696e74536c6142726561636865645801621a637573746f6d6572732f63312f636f6d706c61696e74732f6b31da032c080112060890fecfaa061801221e0a02733212087465616d732f74311a0e6465706172746d656e74732f6431",
     R"pb(event_id: "e8" customer_id: "c1" aggregate_version: 8 event_type: "crm.events.v1.ComplaintSlaBreached" schema_version: 1 aggregate: "customers/c1/complaints/k1" complaint_sla_breached { kind: RESPONSE due_time { seconds: 1700003600 } severity: MINOR assignee { staff_id: "s2" team: "teams/t1" department: "departments/d1" } })pb"},
    {"DepartmentCreated",
     "0a0265311801521f63726d2e6576656e74732e76312e4465706172746d656e74437265617465645801620e6465706172746d656e74732f6431b204210a1f0a0e6465706172746d656e74732f6431120753657276696365180322027339",
     R"pb(event_id: "e1" aggregate_version: 1 event_type: "crm.events.v1.DepartmentCreated" schema_version: 1 aggregate: "departments/d1" department_created { department { name: "departments/d1" display_name: "Service" function: CUSTOMER_SERVICE head: "s9" } })pb"},
    {"DepartmentUpdated",
     "0a0265321802521f63726d2e6576656e74732e76312e4465706172746d656e74557064617465645801620e6465706172746d656e74732f6431ba040e0a0866756e6374696f6e12021804",
     R"pb(event_id: "e2" aggregate_version: 2 event_type: "crm.events.v1.DepartmentUpdated" schema_version: 1 aggregate: "departments/d1" department_updated { changed_paths: "function" department { function: OTHER_FUNCTION } })pb"},
    {"TeamCreated",
     "0a0265311801521963726d2e6576656e74732e76312e5465616d43726561746564580162087465616d732f7431c204280a260a087465616d732f743112065465616d20311a0e6465706172746d656e74732f643122027339",
     R"pb(event_id: "e1" aggregate_version: 1 event_type: "crm.events.v1.TeamCreated" schema_version: 1 aggregate: "teams/t1" team_created { team { name: "teams/t1" display_name: "Team 1" department: "departments/d1" lead: "s9" } })pb"},
    {"TeamUpdated",
     "0a0265321802521963726d2e6576656e74732e76312e5465616d55706461746564580162087465616d732f7431ca040c0a046c656164120422027338",
     R"pb(event_id: "e2" aggregate_version: 2 event_type: "crm.events.v1.TeamUpdated" schema_version: 1 aggregate: "teams/t1" team_updated { changed_paths: "lead" team { lead: "s8" } })pb"},
    {"StaffAdded",
     "0a0265311801521863726d2e6576656e74732e76312e537461666641646465645801620873746166662f7331d204490a470a0873746166662f733112064c69204c65691a0f6c6940636f72702e6578616d706c6520052803320e6465706172746d656e74732f64313a087465616d732f7431420273394801",
     R"pb(event_id: "e1" aggregate_version: 1 event_type: "crm.events.v1.StaffAdded" schema_version: 1 aggregate: "staff/s1" staff_added { staff { name: "staff/s1" display_name: "Li Lei" email: "li@corp.example" role: MANAGER level: SENIOR department: "departments/d1" team: "teams/t1" manager: "s9" active: true } })pb"},
    {"StaffUpdated",
     "0a0265321802521a63726d2e6576656e74732e76312e5374616666557064617465645801620873746166662f7331da04130a04726f6c650a056c6576656c120420032801",
     R"pb(event_id: "e2" aggregate_version: 2 event_type: "crm.events.v1.StaffUpdated" schema_version: 1 aggregate: "staff/s1" staff_updated { changed_paths: "role" changed_paths: "level" staff { role: SERVICE_AGENT level: FRONT_LINE } })pb"},
};
// clang-format on

// gtest names each case by its event type; the record itself is too long to print.
void PrintTo(const Golden& golden, std::ostream* os) { *os << golden.event_type; }

// Paths of the messages in `message` (itself included) that hold fields this schema does not
// know: any is a field the new types lost.
void CollectUnknown(const Message& message, const std::string& path,
                    std::vector<std::string>& out) {
  const auto* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) out.push_back(path);
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string child = path + "." + field->name();
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        CollectUnknown(reflection->GetRepeatedMessage(message, field, i), child, out);
      }
    } else {
      CollectUnknown(reflection->GetMessage(message, field), child, out);
    }
  }
}

class EventCompatTest : public testing::TestWithParam<Golden> {};

TEST_P(EventCompatTest, RecordOfTheEarlierSchemaReadsTheSame) {
  const Golden& golden = GetParam();
  const std::string bytes = absl::HexStringToBytes(golden.hex);
  EventEnvelope event;
  ASSERT_TRUE(event.ParseFromString(bytes));
  EXPECT_EQ(event.event_type(), std::string("crm.events.v1.") + golden.event_type);

  std::vector<std::string> unknown;
  CollectUnknown(event, "EventEnvelope", unknown);
  EXPECT_TRUE(unknown.empty()) << "unknown fields in " << unknown.front();

  // Every field kept its number and wire type: the record writes back byte for byte.
  EXPECT_EQ(absl::BytesToHexString(event.SerializeAsString()), golden.hex);

  // ... and its name, and every enum value its name: it prints the same.
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  ASSERT_TRUE(printer.PrintToString(event, &text));
  EXPECT_EQ(absl::StripAsciiWhitespace(text), golden.text);
}

INSTANTIATE_TEST_SUITE_P(Goldens, EventCompatTest, testing::ValuesIn(kGoldens),
                         [](const testing::TestParamInfo<Golden>& info) {
                           return std::string(info.param.event_type);
                         });

}  // namespace
}  // namespace crm::events::v1
