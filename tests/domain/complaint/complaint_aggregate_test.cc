#include "domain/complaint/complaint_aggregate.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::complaint {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
using ::crm::v1::ComplaintStatus;
using ::crm::v1::StaffRef;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kCustomerId[] = "acme";
constexpr char kParent[] = "customers/acme";
constexpr char kComplaintId[] = "c1";
constexpr char kName[] = "customers/acme/complaints/c1";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(
      static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

absl::Time T(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

StaffRef Ref(const std::string& id) {
  StaffRef ref;
  ref.set_staff_id(id);
  ref.set_team("teams/" + id + "-team");
  ref.set_department("departments/service");
  return ref;
}

ResolvedStaff Staffer(const std::string& id, crm::v1::StaffRole role = crm::v1::SERVICE_AGENT) {
  return ResolvedStaff{Ref(id), role};
}

// The reporting line of the tests: agent-1 -> sup-1 -> mgr-1 (top); agent-2 -> sup-1.
DecideContext Ctx(absl::Time now) {
  DecideContext context;
  context.now = now;
  context.manager_of =
      [](absl::string_view id) -> absl::StatusOr<std::optional<crm::v1::StaffRef>> {
    static const std::map<std::string, std::string> kManagers = {
        {"agent-1", "sup-1"}, {"agent-2", "sup-1"}, {"sup-1", "mgr-1"}, {"mgr-1", ""}};
    auto it = kManagers.find(std::string(id));
    if (it == kManagers.end()) return absl::NotFoundError(absl::StrCat("staff ", id));
    if (it->second.empty()) return std::nullopt;
    return Ref(it->second);
  };
  return context;
}

// Stamps decided events as the command executor does and applies them.
void ApplyAll(State& state, const Events& events, absl::Time now) {
  for (Event event : events) {
    event.set_aggregate(kName);
    event.set_customer_id(kCustomerId);
    event.set_aggregate_version(state.version() + 1);
    *event.mutable_recorded_at() = Ts(now);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = event.recorded_at();
    absl::Status applied = Apply(state, event);
    ASSERT_TRUE(applied.ok()) << applied;
  }
}

crm::v1::FileComplaintRequest FileReq(crm::v1::ComplaintSeverity severity = crm::v1::GENERAL) {
  crm::v1::FileComplaintRequest request;
  request.set_parent(kParent);
  request.set_request_id("req-file");
  auto* c = request.mutable_complaint();
  c->set_channel(crm::v1::PHONE);
  c->set_category(crm::v1::LOGISTICS);
  c->set_severity(severity);
  c->set_description("包裹三周未到 / parcel three weeks late");
  return request;
}
template <typename Req>
Req Named() {
  Req request;
  request.set_name(kName);
  return request;
}
crm::v1::AssignComplaintRequest AssignReq(const std::string& assignee) {
  auto request = Named<crm::v1::AssignComplaintRequest>();
  request.set_assignee(assignee);
  return request;
}
crm::v1::ResolveComplaintRequest ResolveReq() {
  auto request = Named<crm::v1::ResolveComplaintRequest>();
  request.set_resolution("Re-shipped with express delivery");
  request.set_root_cause(crm::v1::DELIVERY_DELAY);
  return request;
}
crm::v1::RecordFollowUpVisitRequest VisitReq(bool satisfied, int csat) {
  auto request = Named<crm::v1::RecordFollowUpVisitRequest>();
  request.mutable_visit()->set_satisfied(satisfied);
  request.mutable_visit()->set_csat(csat);
  request.mutable_visit()->set_comment("called back");
  return request;
}

absl::StatusOr<Events> File(const State& state, absl::Time now,
                            crm::v1::ComplaintSeverity severity = crm::v1::GENERAL) {
  return DecideFile(state, FileReq(severity), kComplaintId, /*customer_exists=*/true, Ctx(now));
}

// Runs `command` with a valid request (AssignComplaint names agent-2, a different assignee than
// the flow's agent-1; the visit finds the customer not satisfied).
absl::StatusOr<Events> RunCommand(Command command, const State& state, absl::Time now) {
  switch (command) {
    case Command::kFile:
      return File(state, now);
    case Command::kAcknowledge:
      return DecideAcknowledge(state, Named<crm::v1::AcknowledgeComplaintRequest>(), std::nullopt,
                               Ctx(now));
    case Command::kAssign:
      return DecideAssign(state, AssignReq("agent-2"), Staffer("agent-2"), Ctx(now));
    case Command::kStartInvestigation:
      return DecideStartInvestigation(state, Named<crm::v1::StartInvestigationRequest>(), Ctx(now));
    case Command::kResolve:
      return DecideResolve(state, ResolveReq(), Ctx(now));
    case Command::kRecordFollowUpVisit:
      return DecideRecordFollowUpVisit(state, VisitReq(false, 2), Ctx(now));
    case Command::kClose:
      return DecideClose(state, Named<crm::v1::CloseComplaintRequest>(), Ctx(now));
    case Command::kReopen:
      return DecideReopen(state, Named<crm::v1::ReopenComplaintRequest>(), Ctx(now));
    case Command::kEscalate:
      return DecideEscalate(state, Named<crm::v1::EscalateComplaintRequest>(), Ctx(now));
    case Command::kBreachSla:
      return DecideBreachSla(
          state, BreachSla{crm::v1::RESOLUTION, T(state.resolution_deadline().due_time())},
          Ctx(now));
  }
  return absl::InternalError("unreachable");
}

// Runs `command` and applies its events; fails the test if it is refused.
void Step(State& state, Command command, absl::Time now) {
  absl::StatusOr<Events> events = RunCommand(command, state, now);
  ASSERT_TRUE(events.ok()) << CommandName(command) << ": " << events.status();
  ApplyAll(state, *events, now);
}

// A complaint brought to `status` along the main flow, one minute per step from kT0 (assignee
// agent-1; the follow-up visit finds the customer not satisfied).
State StateIn(ComplaintStatus status) {
  State s;
  absl::Time now = kT0;
  auto next = [&] { return now += absl::Minutes(1); };
  Step(s, Command::kFile, now);
  if (status == crm::v1::FILED) return s;
  Step(s, Command::kAcknowledge, next());
  if (status == crm::v1::ACKNOWLEDGED) return s;
  auto assigned = DecideAssign(s, AssignReq("agent-1"), Staffer("agent-1"), Ctx(next()));
  EXPECT_TRUE(assigned.ok());
  ApplyAll(s, *assigned, now);
  if (status == crm::v1::ASSIGNED) return s;
  Step(s, Command::kStartInvestigation, next());
  if (status == crm::v1::INVESTIGATING) return s;
  Step(s, Command::kResolve, next());
  if (status == crm::v1::RESOLVED) return s;
  Step(s, Command::kRecordFollowUpVisit, next());
  if (status == crm::v1::FOLLOWED_UP) return s;
  if (status == crm::v1::REOPENED) {
    Step(s, Command::kReopen, next());
    return s;
  }
  Step(s, Command::kClose, next());
  return s;
}

const ComplaintStatus kStatuses[] = {
    crm::v1::FILED,    crm::v1::ACKNOWLEDGED, crm::v1::ASSIGNED, crm::v1::INVESTIGATING,
    crm::v1::RESOLVED, crm::v1::FOLLOWED_UP,  crm::v1::CLOSED,   crm::v1::REOPENED};

// The transition table as documented in proto/crm/v1/README.md: command x status -> the status
// after it; absent = refused. Written out independently of AllowedStatuses/StatusAfter.
const std::map<std::pair<Command, ComplaintStatus>, ComplaintStatus>& Table() {
  using namespace crm::v1;  // NOLINT
  static const auto* table = new std::map<std::pair<Command, ComplaintStatus>, ComplaintStatus>{
      {{Command::kAcknowledge, FILED}, ACKNOWLEDGED},
      {{Command::kAssign, ACKNOWLEDGED}, ASSIGNED},
      {{Command::kAssign, ASSIGNED}, ASSIGNED},
      {{Command::kAssign, INVESTIGATING}, INVESTIGATING},
      {{Command::kAssign, REOPENED}, ASSIGNED},
      {{Command::kStartInvestigation, ASSIGNED}, INVESTIGATING},
      {{Command::kStartInvestigation, REOPENED}, INVESTIGATING},
      {{Command::kResolve, INVESTIGATING}, RESOLVED},
      {{Command::kRecordFollowUpVisit, RESOLVED}, FOLLOWED_UP},
      {{Command::kClose, FOLLOWED_UP}, CLOSED},
      {{Command::kReopen, FOLLOWED_UP}, REOPENED},
      {{Command::kEscalate, ASSIGNED}, ASSIGNED},
      {{Command::kEscalate, INVESTIGATING}, INVESTIGATING},
      {{Command::kEscalate, REOPENED}, REOPENED},
  };
  return *table;
}

TEST(ComplaintTransitionTest, EveryCommandInEveryStatus) {
  for (ComplaintStatus status : kStatuses) {
    const State state = StateIn(status);
    ASSERT_EQ(state.status(), status);
    // Shortly after the last step: no deadline has passed.
    const absl::Time now = kT0 + absl::Minutes(30);
    for (Command command : kAllCommands) {
      SCOPED_TRACE(
          absl::StrCat(CommandName(command), " in ", crm::v1::ComplaintStatus_Name(status)));
      absl::StatusOr<Events> events = RunCommand(command, state, now);
      if (command == Command::kFile) {
        EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
        EXPECT_EQ(Reason(events.status()), "COMPLAINT_ALREADY_EXISTS");
        continue;
      }
      if (command == Command::kBreachSla) {
        // Allowed in every status; nothing is due yet.
        EXPECT_TRUE(IsAllowed(command, status));
        ASSERT_TRUE(events.ok()) << events.status();
        EXPECT_THAT(*events, IsEmpty());
        continue;
      }
      auto it = Table().find({command, status});
      EXPECT_EQ(IsAllowed(command, status), it != Table().end());
      if (it == Table().end()) {
        ASSERT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition) << events.status();
        EXPECT_EQ(Reason(events.status()), "TRANSITION_NOT_ALLOWED");
        EXPECT_EQ(Meta(events.status(), "current_status"), crm::v1::ComplaintStatus_Name(status));
        EXPECT_EQ(Meta(events.status(), "command"), CommandName(command));
        EXPECT_THAT(std::string(events.status().message()),
                    HasSubstr(absl::StrCat(kName, " is ", crm::v1::ComplaintStatus_Name(status),
                                           "; ", CommandName(command), " needs ")));
        continue;
      }
      ASSERT_TRUE(events.ok()) << events.status();
      ASSERT_THAT(*events, SizeIs(1));
      State after = state;
      ApplyAll(after, *events, now);
      EXPECT_EQ(after.status(), it->second);
      EXPECT_EQ(StatusAfter(command, status), it->second);
      EXPECT_EQ(after.version(), state.version() + 1);
    }
  }
}

TEST(ComplaintTransitionTest, RefusalNamesCurrentAndNeededStatus) {
  State closed = StateIn(crm::v1::CLOSED);
  auto resolved = DecideResolve(closed, ResolveReq(), Ctx(kT0 + absl::Hours(1)));
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(resolved.status().message(),
            "customers/acme/complaints/c1 is CLOSED; ResolveComplaint needs INVESTIGATING");
  EXPECT_EQ(Meta(resolved.status(), "current_status"), "CLOSED");
  EXPECT_EQ(Meta(resolved.status(), "allowed_statuses"), "INVESTIGATING");

  auto assigned = DecideAssign(StateIn(crm::v1::FILED), AssignReq("agent-1"), Staffer("agent-1"),
                               Ctx(kT0 + absl::Hours(1)));
  EXPECT_EQ(assigned.status().message(),
            "customers/acme/complaints/c1 is FILED; AssignComplaint needs ACKNOWLEDGED, ASSIGNED, "
            "INVESTIGATING or REOPENED");
}

TEST(ComplaintTransitionTest, CommandsOnAMissingComplaintAreNotFound) {
  const State none;
  for (Command command : kAllCommands) {
    if (command == Command::kFile) continue;
    SCOPED_TRACE(CommandName(command));
    absl::StatusOr<Events> events = RunCommand(command, none, kT0);
    EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound) << events.status();
  }
  auto ack = DecideAcknowledge(none, Named<crm::v1::AcknowledgeComplaintRequest>(), std::nullopt,
                               Ctx(kT0));
  EXPECT_EQ(Reason(ack.status()), "COMPLAINT_NOT_FOUND");
}

TEST(ComplaintTransitionTest, FullFlowWithReopenAndSecondResolution) {
  State s = StateIn(crm::v1::REOPENED);
  EXPECT_EQ(s.reopen_count(), 1);
  Step(s, Command::kStartInvestigation, kT0 + absl::Hours(1));
  EXPECT_EQ(s.status(), crm::v1::INVESTIGATING);
  EXPECT_EQ(s.assignee().staff_id(), "agent-1");
  Step(s, Command::kResolve, kT0 + absl::Hours(2));
  auto visit = DecideRecordFollowUpVisit(s, VisitReq(true, 5), Ctx(kT0 + absl::Hours(3)));
  ASSERT_TRUE(visit.ok()) << visit.status();
  ApplyAll(s, *visit, kT0 + absl::Hours(3));
  // Satisfied: reopening is refused, closing is allowed.
  auto reopen =
      DecideReopen(s, Named<crm::v1::ReopenComplaintRequest>(), Ctx(kT0 + absl::Hours(4)));
  EXPECT_EQ(reopen.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(reopen.status()), "CUSTOMER_SATISFIED");
  Step(s, Command::kClose, kT0 + absl::Hours(4));
  EXPECT_EQ(s.status(), crm::v1::CLOSED);
  EXPECT_EQ(T(s.close_time()), kT0 + absl::Hours(4));
  EXPECT_EQ(s.version(), 11);
  EXPECT_EQ(s.etag(), "v11");
}

// --- FileComplaint and the SLA policy ---------------------------------------------------------

TEST(FileComplaintTest, RecordsDeadlinesFromThePolicyPerSeverity) {
  struct Case {
    crm::v1::ComplaintSeverity severity;
    absl::Duration response, resolution;
  };
  for (const Case& c : {Case{crm::v1::SEVERE, absl::Hours(4), absl::Hours(24)},
                        Case{crm::v1::GENERAL, absl::Hours(24), absl::Hours(72)},
                        Case{crm::v1::MINOR, absl::Hours(48), absl::Hours(168)}}) {
    SCOPED_TRACE(crm::v1::ComplaintSeverity_Name(c.severity));
    auto events = File(State(), kT0, c.severity);
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_THAT(*events, SizeIs(1));
    const auto& filed = (*events)[0].complaint_filed();
    EXPECT_EQ(T(filed.response_due_time()), kT0 + c.response);
    EXPECT_EQ(T(filed.resolution_due_time()), kT0 + c.resolution);
    State s;
    ApplyAll(s, *events, kT0);
    EXPECT_EQ(s.name(), kName);
    EXPECT_EQ(s.status(), crm::v1::FILED);
    EXPECT_EQ(s.severity(), c.severity);
    EXPECT_EQ(s.response_deadline().kind(), crm::v1::RESPONSE);
    EXPECT_EQ(T(s.response_deadline().due_time()), kT0 + c.response);
    EXPECT_EQ(s.resolution_deadline().kind(), crm::v1::RESOLUTION);
    EXPECT_EQ(T(s.resolution_deadline().due_time()), kT0 + c.resolution);
    EXPECT_FALSE(s.response_deadline().has_met_time());
    EXPECT_EQ(T(s.create_time()), kT0);
    EXPECT_EQ(s.version(), 1);
    EXPECT_EQ(s.etag(), "v1");
    EXPECT_THAT(OpenDeadlines(s), SizeIs(2));
  }
}

TEST(FileComplaintTest, UsesAConfiguredPolicy) {
  DecideContext context = Ctx(kT0);
  context.policy = *ParseSlaPolicy("severe=1h/8h");
  auto events = DecideFile(State(), FileReq(crm::v1::SEVERE), kComplaintId, true, context);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(T((*events)[0].complaint_filed().response_due_time()), kT0 + absl::Hours(1));
  EXPECT_EQ(T((*events)[0].complaint_filed().resolution_due_time()), kT0 + absl::Hours(8));
}

TEST(FileComplaintTest, VipCustomersGetTheirTiersDeadlinesAndTheTierIsRecorded) {
  const DecideContext context = Ctx(kT0);  // the default policy: VIP half of each severity's
  auto vip = DecideFile(State(), FileReq(crm::v1::SEVERE), kComplaintId, true, context,
                        crm::v1::HIGH_VALUE);
  auto ordinary =
      DecideFile(State(), FileReq(crm::v1::SEVERE), kComplaintId, true, context, crm::v1::ORDINARY);
  ASSERT_TRUE(vip.ok() && ordinary.ok());
  const auto& vip_filed = (*vip)[0].complaint_filed();
  EXPECT_EQ(T(vip_filed.response_due_time()), kT0 + absl::Hours(2));
  EXPECT_EQ(T(vip_filed.resolution_due_time()), kT0 + absl::Hours(12));
  EXPECT_EQ(vip_filed.customer_tier(), crm::events::v1::HIGH_VALUE);
  const auto& ordinary_filed = (*ordinary)[0].complaint_filed();
  EXPECT_EQ(T(ordinary_filed.response_due_time()), kT0 + absl::Hours(4));
  EXPECT_EQ(T(ordinary_filed.resolution_due_time()), kT0 + absl::Hours(24));
  EXPECT_EQ(ordinary_filed.customer_tier(), crm::events::v1::ORDINARY);

  // The state keeps the tier; a reopening's new deadline uses it, with the policy then in force.
  State s;
  ApplyAll(s, *vip, kT0);
  EXPECT_EQ(s.customer_tier(), crm::v1::HIGH_VALUE);
  s.set_status(crm::v1::FOLLOWED_UP);
  s.mutable_follow_up()->set_satisfied(false);
  DecideContext later = Ctx(kT0 + absl::Hours(30));
  later.policy = *ParseSlaPolicy("severe=5h/30h,vip.severe=1h/10h");
  auto reopen = Named<crm::v1::ReopenComplaintRequest>();
  auto reopened = DecideReopen(s, reopen, later);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(T((*reopened)[0].complaint_reopened().resolution_due_time()),
            kT0 + absl::Hours(30) + absl::Hours(10));
}

TEST(FileComplaintTest, ComplaintsFiledBeforeTiersReadAsUnspecified) {
  auto events = File(State(), kT0, crm::v1::GENERAL);  // no tier given: as before tiers counted
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_filed().customer_tier(),
            crm::events::v1::VALUE_TIER_UNSPECIFIED);
  EXPECT_EQ(T((*events)[0].complaint_filed().response_due_time()), kT0 + absl::Hours(24));
  State s;
  ApplyAll(s, *events, kT0);
  EXPECT_EQ(s.customer_tier(), crm::v1::VALUE_TIER_UNSPECIFIED);
}

TEST(FileComplaintTest, RejectsBadFieldsListingThemAll) {
  crm::v1::FileComplaintRequest request;
  request.set_parent("customer/acme");
  request.mutable_complaint()->set_status(crm::v1::CLOSED);
  request.mutable_complaint()->set_version(3);
  auto events = DecideFile(State(), request, "Bad_Id", true, Ctx(kT0));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()),
              ElementsAre("parent", "complaint_id", "complaint.channel", "complaint.category",
                          "complaint.severity", "complaint.description", "complaint.status",
                          "complaint.version"));
}

TEST(FileComplaintTest, RejectsOutputOnlyFieldsAndTooLongDescription) {
  auto request = FileReq();
  request.mutable_complaint()->set_description(std::string(kMaxDescription + 1, 'x'));
  request.mutable_complaint()->mutable_assignee()->set_staff_id("agent-1");
  request.mutable_complaint()->mutable_response_deadline()->set_breached(true);
  request.mutable_complaint()->set_root_cause(crm::v1::PROCESS_GAP);
  request.mutable_complaint()->set_customer_tier(crm::v1::HIGH_VALUE);
  auto events = DecideFile(State(), request, kComplaintId, true, Ctx(kT0));
  EXPECT_THAT(
      ViolationFields(events.status()),
      ElementsAre("complaint.description", "complaint.assignee", "complaint.response_deadline",
                  "complaint.root_cause", "complaint.customer_tier"));
  // Name and times are ignored.
  request = FileReq();
  request.mutable_complaint()->set_name("whatever");
  *request.mutable_complaint()->mutable_create_time() = Ts(kT0);
  EXPECT_TRUE(DecideFile(State(), request, kComplaintId, true, Ctx(kT0)).ok());
}

TEST(FileComplaintTest, NeedsAnExistingCustomerAndANewId) {
  auto events = DecideFile(State(), FileReq(), kComplaintId, /*customer_exists=*/false, Ctx(kT0));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "CUSTOMER_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "customer"), "customers/acme");

  events = File(StateIn(crm::v1::FILED), kT0);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Meta(events.status(), "complaint"), kName);
}

// --- Common checks ------------------------------------------------------------------------------

TEST(ComplaintCommandTest, EtagMustMatch) {
  const State s = StateIn(crm::v1::FILED);
  auto request = Named<crm::v1::AcknowledgeComplaintRequest>();
  request.set_etag("v7");
  auto events = DecideAcknowledge(s, request, std::nullopt, Ctx(kT0));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Reason(events.status()), "ETAG_MISMATCH");
  EXPECT_EQ(Meta(events.status(), "current_etag"), "v1");
  request.set_etag("v1");
  EXPECT_TRUE(DecideAcknowledge(s, request, std::nullopt, Ctx(kT0)).ok());
  request.set_etag("7");
  EXPECT_EQ(FirstField(DecideAcknowledge(s, request, std::nullopt, Ctx(kT0)).status()), "etag");
}

TEST(ComplaintCommandTest, BadNamesAndRequestIdsAreInvalid) {
  const State s = StateIn(crm::v1::FILED);
  for (const char* name :
       {"", "customers/acme", "customers/acme/complaints/", "customers/ACME/complaints/c1",
        "customers/acme/interactions/c1", "customers/acme/complaints/c1/x"}) {
    SCOPED_TRACE(name);
    auto request = Named<crm::v1::CloseComplaintRequest>();
    request.set_name(name);
    auto events = DecideClose(s, request, Ctx(kT0));
    EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FirstField(events.status()), "name");
  }
  auto request = Named<crm::v1::CloseComplaintRequest>();
  request.set_request_id(std::string(200, 'r'));
  EXPECT_EQ(FirstField(DecideClose(s, request, Ctx(kT0)).status()), "request_id");
}

TEST(ComplaintCommandTest, ParsesNames) {
  auto parts = ParseComplaintName("customers/acme/complaints/c-9", "name");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->customer_id, "acme");
  EXPECT_EQ(parts->complaint_id, "c-9");
  EXPECT_EQ(ComplaintName("acme", "c-9"), "customers/acme/complaints/c-9");
  EXPECT_FALSE(ParseComplaintName("customers/acme/complaints/-c", "name").ok());
}

// --- Acknowledge and the response deadline ---------------------------------------------------

TEST(AcknowledgeTest, MeetsTheResponseDeadline) {
  State s = StateIn(crm::v1::FILED);
  const absl::Time now = kT0 + absl::Hours(2);
  auto events =
      DecideAcknowledge(s, Named<crm::v1::AcknowledgeComplaintRequest>(), Ref("agent-1"), Ctx(now));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].complaint_acknowledged().responder().staff_id(), "agent-1");
  ApplyAll(s, *events, now);
  EXPECT_EQ(s.status(), crm::v1::ACKNOWLEDGED);
  EXPECT_EQ(T(s.response_deadline().met_time()), now);
  EXPECT_FALSE(s.response_deadline().breached());
  EXPECT_THAT(OpenDeadlines(s), SizeIs(1));
  EXPECT_EQ(OpenDeadlines(s)[0].kind(), crm::v1::RESOLUTION);
}

TEST(AcknowledgeTest, AtTheDueTimeIsOnTime) {
  State s = StateIn(crm::v1::FILED);
  const absl::Time due = T(s.response_deadline().due_time());
  auto events =
      DecideAcknowledge(s, Named<crm::v1::AcknowledgeComplaintRequest>(), std::nullopt, Ctx(due));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, SizeIs(1));
}

TEST(AcknowledgeTest, LateAcknowledgementRecordsTheBreachFirst) {
  State s = StateIn(crm::v1::FILED);
  const absl::Time due = T(s.response_deadline().due_time());
  const absl::Time now = due + absl::Seconds(1);
  auto events =
      DecideAcknowledge(s, Named<crm::v1::AcknowledgeComplaintRequest>(), std::nullopt, Ctx(now));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(2));
  ASSERT_TRUE((*events)[0].has_complaint_sla_breached());
  EXPECT_EQ((*events)[0].complaint_sla_breached().kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(T((*events)[0].occurred_at()), due);
  EXPECT_EQ((*events)[0].complaint_sla_breached().severity(), crm::events::v1::GENERAL);
  EXPECT_TRUE((*events)[1].has_complaint_acknowledged());
  ApplyAll(s, *events, now);
  EXPECT_TRUE(s.response_deadline().breached());
  EXPECT_EQ(T(s.response_deadline().met_time()), now);
  // The watcher coming round later finds nothing to do.
  auto breach = DecideBreachSla(s, BreachSla{crm::v1::RESPONSE, due}, Ctx(now + absl::Hours(1)));
  ASSERT_TRUE(breach.ok());
  EXPECT_THAT(*breach, IsEmpty());
}

TEST(AcknowledgeTest, BadResponderIsInvalid) {
  auto request = Named<crm::v1::AcknowledgeComplaintRequest>();
  request.set_responder("bad id!");
  EXPECT_EQ(FirstField(ValidateRequest(request)), "responder");
}

// --- Assign --------------------------------------------------------------------------------------

TEST(AssignTest, AssignsAndReassigns) {
  State s = StateIn(crm::v1::ACKNOWLEDGED);
  auto events =
      DecideAssign(s, AssignReq("agent-1"), Staffer("agent-1"), Ctx(kT0 + absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_assigned().previous_assignee(), "");
  ApplyAll(s, *events, kT0 + absl::Hours(1));
  EXPECT_EQ(s.assignee().staff_id(), "agent-1");
  EXPECT_EQ(s.assignee().team(), "teams/agent-1-team");
  EXPECT_EQ(s.assignee().department(), "departments/service");

  events =
      DecideAssign(s, AssignReq("agent-2"), Staffer("agent-2", crm::v1::CUSTOMER_REPRESENTATIVE),
                   Ctx(kT0 + absl::Hours(2)));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_assigned().previous_assignee(), "agent-1");
  ApplyAll(s, *events, kT0 + absl::Hours(2));
  EXPECT_EQ(s.assignee().staff_id(), "agent-2");
  EXPECT_EQ(s.status(), crm::v1::ASSIGNED);
}

TEST(AssignTest, SameAssigneeChangesNothingButMovesAReopenedComplaint) {
  State assigned = StateIn(crm::v1::ASSIGNED);
  auto events = DecideAssign(assigned, AssignReq("agent-1"), Staffer("agent-1"), Ctx(kT0));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  State investigating = StateIn(crm::v1::INVESTIGATING);
  events = DecideAssign(investigating, AssignReq("agent-1"), Staffer("agent-1"), Ctx(kT0));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  // The same person after moving teams is stamped anew.
  ResolvedStaff moved = Staffer("agent-1");
  moved.ref.set_team("teams/other");
  events = DecideAssign(investigating, AssignReq("agent-1"), moved, Ctx(kT0));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, SizeIs(1));

  State reopened = StateIn(crm::v1::REOPENED);
  events = DecideAssign(reopened, AssignReq("agent-1"), Staffer("agent-1"), Ctx(kT0));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(1));
  ApplyAll(reopened, *events, kT0 + absl::Hours(1));
  EXPECT_EQ(reopened.status(), crm::v1::ASSIGNED);
}

TEST(AssignTest, RoleMustMayHandleComplaints) {
  const State s = StateIn(crm::v1::ACKNOWLEDGED);
  for (auto role : {crm::v1::SERVICE_AGENT, crm::v1::CUSTOMER_REPRESENTATIVE, crm::v1::SUPERVISOR,
                    crm::v1::MANAGER}) {
    EXPECT_TRUE(DecideAssign(s, AssignReq("x"), Staffer("x", role), Ctx(kT0)).ok())
        << crm::v1::StaffRole_Name(role);
  }
  for (auto role : {crm::v1::ACCOUNT_MANAGER, crm::v1::STAFF_ROLE_UNSPECIFIED}) {
    auto events = DecideAssign(s, AssignReq("x"), Staffer("x", role), Ctx(kT0));
    EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(Reason(events.status()), "ROLE_NOT_ALLOWED");
    EXPECT_EQ(Meta(events.status(), "assignee"), "x");
  }
  auto request = AssignReq("");
  EXPECT_EQ(FirstField(DecideAssign(s, request, Staffer("x"), Ctx(kT0)).status()), "assignee");
}

// --- Investigation, resolution and the resolution deadline -----------------------------------

TEST(ResolveTest, MeetsTheResolutionDeadlineAndCreditsTheAssignee) {
  State s = StateIn(crm::v1::INVESTIGATING);
  const absl::Time now = kT0 + absl::Hours(5);
  auto events = DecideResolve(s, ResolveReq(), Ctx(now));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].complaint_resolved().resolver().staff_id(), "agent-1");
  ApplyAll(s, *events, now);
  EXPECT_EQ(s.status(), crm::v1::RESOLVED);
  EXPECT_EQ(s.resolution(), "Re-shipped with express delivery");
  EXPECT_EQ(s.root_cause(), crm::v1::DELIVERY_DELAY);
  EXPECT_EQ(T(s.resolve_time()), now);
  EXPECT_EQ(T(s.resolution_deadline().met_time()), now);
  EXPECT_FALSE(s.resolution_deadline().breached());
  EXPECT_THAT(OpenDeadlines(s), IsEmpty());
}

TEST(ResolveTest, LateResolutionRecordsTheBreachFirst) {
  State s = StateIn(crm::v1::INVESTIGATING);
  const absl::Time due = T(s.resolution_deadline().due_time());
  auto events = DecideResolve(s, ResolveReq(), Ctx(due + absl::Minutes(1)));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[0].complaint_sla_breached().kind(), crm::events::v1::RESOLUTION);
  EXPECT_EQ((*events)[0].complaint_sla_breached().assignee().staff_id(), "agent-1");
  ApplyAll(s, *events, due + absl::Minutes(1));
  EXPECT_TRUE(s.resolution_deadline().breached());
  EXPECT_TRUE(s.resolution_deadline().has_met_time());
}

TEST(ResolveTest, NeedsResolutionAndRootCause) {
  auto request = Named<crm::v1::ResolveComplaintRequest>();
  request.set_root_cause(static_cast<crm::v1::RootCause>(99));
  EXPECT_THAT(ViolationFields(ValidateRequest(request)), ElementsAre("resolution", "root_cause"));
  request.set_root_cause(crm::v1::ROOT_CAUSE_UNSPECIFIED);
  request.set_resolution(std::string(kMaxResolution + 1, 'r'));
  EXPECT_THAT(ViolationFields(ValidateRequest(request)), ElementsAre("resolution", "root_cause"));
}

TEST(StartInvestigationTest, RecordsTheAssignee) {
  State s = StateIn(crm::v1::ASSIGNED);
  auto events = DecideStartInvestigation(s, Named<crm::v1::StartInvestigationRequest>(), Ctx(kT0));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_investigation_started().assignee().staff_id(), "agent-1");
}

// --- Follow-up visit, close, reopen ------------------------------------------------------------

TEST(FollowUpVisitTest, RecordsTheVisitCreditingTheResolver) {
  State s = StateIn(crm::v1::RESOLVED);
  const absl::Time now = kT0 + absl::Hours(30);
  auto events = DecideRecordFollowUpVisit(s, VisitReq(true, 4), Ctx(now));
  ASSERT_TRUE(events.ok());
  const auto& recorded = (*events)[0].complaint_follow_up_visit_recorded();
  EXPECT_EQ(recorded.resolver().staff_id(), "agent-1");
  EXPECT_EQ(T(recorded.visit().visit_time()), now);
  EXPECT_EQ(T((*events)[0].occurred_at()), now);
  ApplyAll(s, *events, now);
  EXPECT_EQ(s.status(), crm::v1::FOLLOWED_UP);
  EXPECT_TRUE(s.follow_up().satisfied());
  EXPECT_EQ(s.follow_up().csat(), 4);
  EXPECT_EQ(s.follow_up().comment(), "called back");
}

TEST(FollowUpVisitTest, VisitTimeIsTheBusinessTime) {
  State s = StateIn(crm::v1::RESOLVED);
  const absl::Time visited = T(s.resolve_time()) + absl::Hours(1);
  auto request = VisitReq(false, 1);
  *request.mutable_visit()->mutable_visit_time() = Ts(visited);
  auto events = DecideRecordFollowUpVisit(s, request, Ctx(visited + absl::Hours(5)));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(T((*events)[0].occurred_at()), visited);
}

TEST(FollowUpVisitTest, RejectsBadVisits) {
  const State s = StateIn(crm::v1::RESOLVED);
  const absl::Time now = kT0 + absl::Hours(1);
  for (int csat : {0, 6, -1}) {
    EXPECT_EQ(FirstField(DecideRecordFollowUpVisit(s, VisitReq(true, csat), Ctx(now)).status()),
              "visit.csat");
  }
  auto request = Named<crm::v1::RecordFollowUpVisitRequest>();
  EXPECT_EQ(FirstField(DecideRecordFollowUpVisit(s, request, Ctx(now)).status()), "visit");
  request = VisitReq(true, 3);
  request.mutable_visit()->set_comment(std::string(kMaxVisitComment + 1, 'c'));
  EXPECT_EQ(FirstField(DecideRecordFollowUpVisit(s, request, Ctx(now)).status()), "visit.comment");
  request = VisitReq(true, 3);
  *request.mutable_visit()->mutable_visit_time() = Ts(now + absl::Hours(1));
  EXPECT_EQ(FirstField(DecideRecordFollowUpVisit(s, request, Ctx(now)).status()),
            "visit.visit_time");
  request.mutable_visit()->mutable_visit_time()->set_nanos(-1);
  EXPECT_EQ(FirstField(DecideRecordFollowUpVisit(s, request, Ctx(now)).status()),
            "visit.visit_time");
  *request.mutable_visit()->mutable_visit_time() = Ts(T(s.resolve_time()) - absl::Seconds(1));
  auto before = DecideRecordFollowUpVisit(s, request, Ctx(now));
  EXPECT_EQ(before.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(before.status()), "visit.visit_time");
}

TEST(ReopenTest, GivesANewResolutionDeadline) {
  State s = StateIn(crm::v1::FOLLOWED_UP);
  ASSERT_TRUE(s.resolution_deadline().has_met_time());
  const absl::Time now = kT0 + absl::Hours(50);
  auto request = Named<crm::v1::ReopenComplaintRequest>();
  request.set_reason("still no parcel");
  auto events = DecideReopen(s, request, Ctx(now));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_reopened().reason(), "still no parcel");
  EXPECT_EQ(T((*events)[0].complaint_reopened().resolution_due_time()), now + absl::Hours(72));
  ApplyAll(s, *events, now);
  EXPECT_EQ(s.status(), crm::v1::REOPENED);
  EXPECT_EQ(s.reopen_count(), 1);
  EXPECT_EQ(T(s.resolution_deadline().due_time()), now + absl::Hours(72));
  EXPECT_FALSE(s.resolution_deadline().has_met_time());
  EXPECT_FALSE(s.resolution_deadline().breached());
  ASSERT_THAT(OpenDeadlines(s), SizeIs(1));

  request.set_reason(std::string(kMaxReason + 1, 'r'));
  EXPECT_EQ(FirstField(ValidateRequest(request)), "reason");
}

// --- Escalation ----------------------------------------------------------------------------------

TEST(EscalateTest, GoesUpTheReportingLine) {
  State s = StateIn(crm::v1::INVESTIGATING);
  auto request = Named<crm::v1::EscalateComplaintRequest>();
  request.set_reason("customer threatens to go to the press");
  auto events = DecideEscalate(s, request, Ctx(kT0 + absl::Hours(1)));
  ASSERT_TRUE(events.ok()) << events.status();
  const auto& first = (*events)[0].complaint_escalated();
  EXPECT_EQ(first.level(), 1);
  EXPECT_EQ(first.from().staff_id(), "agent-1");
  EXPECT_EQ(first.to().staff_id(), "sup-1");
  EXPECT_EQ(first.to().team(), "teams/sup-1-team");
  EXPECT_FALSE(first.automatic());
  EXPECT_EQ(first.reason(), "customer threatens to go to the press");
  ApplyAll(s, *events, kT0 + absl::Hours(1));
  EXPECT_EQ(s.escalation_level(), 1);
  EXPECT_EQ(s.escalated_to().staff_id(), "sup-1");
  EXPECT_EQ(s.status(), crm::v1::INVESTIGATING);

  events = DecideEscalate(s, request, Ctx(kT0 + absl::Hours(2)));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_escalated().level(), 2);
  EXPECT_EQ((*events)[0].complaint_escalated().from().staff_id(), "sup-1");
  EXPECT_EQ((*events)[0].complaint_escalated().to().staff_id(), "mgr-1");
  ApplyAll(s, *events, kT0 + absl::Hours(2));

  events = DecideEscalate(s, request, Ctx(kT0 + absl::Hours(3)));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "TOP_OF_REPORTING_LINE");
  EXPECT_EQ(Meta(events.status(), "holder"), "mgr-1");
}

TEST(EscalateTest, LookupErrorsPropagate) {
  State s = StateIn(crm::v1::ASSIGNED);
  DecideContext context = Ctx(kT0);
  context.manager_of = [](absl::string_view) -> absl::StatusOr<std::optional<StaffRef>> {
    return absl::UnavailableError("org state catching up");
  };
  EXPECT_EQ(DecideEscalate(s, Named<crm::v1::EscalateComplaintRequest>(), context).status().code(),
            absl::StatusCode::kUnavailable);
  context.manager_of = nullptr;
  EXPECT_EQ(DecideEscalate(s, Named<crm::v1::EscalateComplaintRequest>(), context).status().code(),
            absl::StatusCode::kInternal);
}

// --- BreachSla
// -------------------------------------------------------------------------------------

TEST(BreachSlaTest, NotBeforeTheDueTime) {
  const State s = StateIn(crm::v1::FILED);
  const absl::Time due = T(s.response_deadline().due_time());
  for (absl::Time now : {kT0, due - absl::Nanoseconds(1), due}) {
    auto events = DecideBreachSla(s, BreachSla{crm::v1::RESPONSE, due}, Ctx(now));
    ASSERT_TRUE(events.ok());
    EXPECT_THAT(*events, IsEmpty());
  }
}

TEST(BreachSlaTest, UnassignedResponseBreachEscalatesToNobody) {
  State s = StateIn(crm::v1::FILED);
  const absl::Time due = T(s.response_deadline().due_time());
  const absl::Time now = due + absl::Seconds(10);
  auto events = DecideBreachSla(s, BreachSla{crm::v1::RESPONSE, due}, Ctx(now));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(2));
  const Event& breach = (*events)[0];
  EXPECT_EQ(T(breach.occurred_at()), due);
  EXPECT_EQ(breach.complaint_sla_breached().kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(T(breach.complaint_sla_breached().due_time()), due);
  EXPECT_EQ(breach.complaint_sla_breached().severity(), crm::events::v1::GENERAL);
  EXPECT_FALSE(breach.complaint_sla_breached().has_assignee());
  const auto& escalated = (*events)[1].complaint_escalated();
  EXPECT_TRUE(escalated.automatic());
  EXPECT_EQ(escalated.sla_kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(escalated.level(), 1);
  EXPECT_EQ(escalated.from().staff_id(), "");
  EXPECT_EQ(escalated.to().staff_id(), "");
  EXPECT_THAT(escalated.reason(), HasSubstr("RESPONSE deadline"));
  ApplyAll(s, *events, now);
  EXPECT_TRUE(s.response_deadline().breached());
  EXPECT_FALSE(s.response_deadline().has_met_time());
  EXPECT_EQ(s.escalation_level(), 1);
  EXPECT_EQ(s.status(), crm::v1::FILED);
  ASSERT_THAT(OpenDeadlines(s), SizeIs(1));

  // Once only.
  events = DecideBreachSla(s, BreachSla{crm::v1::RESPONSE, due}, Ctx(now + absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  // A late acknowledgement after the breach records no second breach.
  events = DecideAcknowledge(s, Named<crm::v1::AcknowledgeComplaintRequest>(), std::nullopt,
                             Ctx(now + absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, SizeIs(1));
}

TEST(BreachSlaTest, ResolutionBreachEscalatesToTheAssigneesManagerThenUp) {
  State s = StateIn(crm::v1::INVESTIGATING);
  const absl::Time due = T(s.resolution_deadline().due_time());
  auto events =
      DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, due}, Ctx(due + absl::Minutes(1)));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[0].complaint_sla_breached().assignee().staff_id(), "agent-1");
  EXPECT_EQ((*events)[1].complaint_escalated().from().staff_id(), "agent-1");
  EXPECT_EQ((*events)[1].complaint_escalated().to().staff_id(), "sup-1");
  ApplyAll(s, *events, due + absl::Minutes(1));
  EXPECT_EQ(s.escalated_to().staff_id(), "sup-1");

  // A manual escalation goes on from the last target.
  events = DecideEscalate(s, Named<crm::v1::EscalateComplaintRequest>(), Ctx(due + absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].complaint_escalated().from().staff_id(), "sup-1");
  EXPECT_EQ((*events)[0].complaint_escalated().to().staff_id(), "mgr-1");
  EXPECT_EQ((*events)[0].complaint_escalated().level(), 2);
}

TEST(BreachSlaTest, AtTheTopTheEscalationHasNoTarget) {
  State s = StateIn(crm::v1::ASSIGNED);
  auto assign = DecideAssign(s, AssignReq("mgr-1"), Staffer("mgr-1", crm::v1::MANAGER), Ctx(kT0));
  ApplyAll(s, *assign, kT0 + absl::Minutes(10));
  const absl::Time due = T(s.resolution_deadline().due_time());
  auto events =
      DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, due}, Ctx(due + absl::Minutes(1)));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[1].complaint_escalated().from().staff_id(), "mgr-1");
  EXPECT_EQ((*events)[1].complaint_escalated().to().staff_id(), "");
  ApplyAll(s, *events, due + absl::Minutes(1));
  EXPECT_EQ(s.escalation_level(), 1);
  EXPECT_FALSE(s.has_escalated_to());
}

TEST(BreachSlaTest, UnknownHolderEscalatesToNobodyOtherLookupErrorsPropagate) {
  State s = StateIn(crm::v1::ASSIGNED);
  auto assign = DecideAssign(s, AssignReq("ghost"), Staffer("ghost"), Ctx(kT0));
  ApplyAll(s, *assign, kT0 + absl::Minutes(10));
  const absl::Time due = T(s.resolution_deadline().due_time());
  auto events =
      DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, due}, Ctx(due + absl::Minutes(1)));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[1].complaint_escalated().to().staff_id(), "");

  DecideContext context = Ctx(due + absl::Minutes(1));
  context.manager_of = [](absl::string_view) -> absl::StatusOr<std::optional<StaffRef>> {
    return absl::UnavailableError("store trouble");
  };
  EXPECT_EQ(DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, due}, context).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(BreachSlaTest, MetDeadlineStaleDueTimeAndBadKindRecordNothing) {
  State s = StateIn(crm::v1::ACKNOWLEDGED);
  const absl::Time response_due = T(s.response_deadline().due_time());
  const absl::Time later = kT0 + absl::Hours(500);
  auto events = DecideBreachSla(s, BreachSla{crm::v1::RESPONSE, response_due}, Ctx(later));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());  // met

  const absl::Time resolution_due = T(s.resolution_deadline().due_time());
  events = DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, resolution_due - absl::Hours(1)},
                           Ctx(later));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());  // stale due time

  EXPECT_EQ(DecideBreachSla(s, BreachSla{crm::v1::SLA_KIND_UNSPECIFIED, resolution_due}, Ctx(later))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecideBreachSla(State(), BreachSla{crm::v1::RESOLUTION, resolution_due}, Ctx(later))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(BreachSlaTest, ReopenedComplaintCanBreachItsNewDeadline) {
  State s = StateIn(crm::v1::INVESTIGATING);
  const absl::Time first_due = T(s.resolution_deadline().due_time());
  // Breached once, then resolved late, visited, reopened.
  auto events = DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, first_due},
                                Ctx(first_due + absl::Hours(1)));
  ApplyAll(s, *events, first_due + absl::Hours(1));
  absl::Time now = first_due + absl::Hours(2);
  Step(s, Command::kResolve, now);
  Step(s, Command::kRecordFollowUpVisit, now += absl::Hours(1));
  Step(s, Command::kReopen, now += absl::Hours(1));
  const absl::Time second_due = T(s.resolution_deadline().due_time());
  EXPECT_EQ(second_due, now + absl::Hours(72));
  // The old deadline is stale; the new one breaches once it passes.
  events = DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, first_due},
                           Ctx(second_due + absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  events = DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, second_due}, Ctx(second_due));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  events = DecideBreachSla(s, BreachSla{crm::v1::RESOLUTION, second_due},
                           Ctx(second_due + absl::Seconds(1)));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(2));
  ApplyAll(s, *events, second_due + absl::Seconds(1));
  EXPECT_TRUE(s.resolution_deadline().breached());
  EXPECT_EQ(s.escalation_level(), 2);
  EXPECT_EQ(s.escalated_to().staff_id(), "mgr-1");  // sup-1 held it after the first breach
}

// --- RemindSla -----------------------------------------------------------------------------------

TEST(RemindSlaTest, OnceWithinTheLeadAndNotAfterTheDueTime) {
  State s = StateIn(crm::v1::ASSIGNED);
  const absl::Time due = T(s.resolution_deadline().due_time());
  const absl::Duration lead = absl::Hours(2);
  const RemindSla remind{crm::v1::RESOLUTION, due, lead};
  for (absl::Time now : {due - lead - absl::Nanoseconds(1), due + absl::Nanoseconds(1)}) {
    auto events = DecideRemindSla(s, remind, Ctx(now));
    ASSERT_TRUE(events.ok());
    EXPECT_THAT(*events, IsEmpty());
  }
  auto events = DecideRemindSla(s, remind, Ctx(due - absl::Minutes(30)));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  const auto& approaching = (*events)[0].complaint_deadline_approaching();
  EXPECT_EQ(T((*events)[0].occurred_at()), due - lead);
  EXPECT_EQ(approaching.kind(), crm::events::v1::RESOLUTION);
  EXPECT_EQ(T(approaching.due_time()), due);
  EXPECT_EQ(approaching.assignee().staff_id(), "agent-1");
  ApplyAll(s, *events, due - absl::Minutes(30));
  EXPECT_TRUE(s.resolution_deadline().reminded());
  EXPECT_FALSE(s.response_deadline().reminded());
  EXPECT_THAT(OpenDeadlines(s), SizeIs(1));  // a reminder does not close the deadline
  // Once only.
  events = DecideRemindSla(s, remind, Ctx(due));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
}

TEST(RemindSlaTest, MetOrStaleDeadlinesBadKindsAndLeadsRecordNothing) {
  State s = StateIn(crm::v1::ACKNOWLEDGED);
  const absl::Time response_due = T(s.response_deadline().due_time());
  auto events = DecideRemindSla(s, RemindSla{crm::v1::RESPONSE, response_due, absl::Hours(500)},
                                Ctx(response_due));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());  // met
  const absl::Time resolution_due = T(s.resolution_deadline().due_time());
  events = DecideRemindSla(
      s, RemindSla{crm::v1::RESOLUTION, resolution_due - absl::Hours(1), absl::Hours(2)},
      Ctx(resolution_due - absl::Hours(1)));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());  // stale due time
  EXPECT_EQ(
      DecideRemindSla(s, RemindSla{crm::v1::SLA_KIND_UNSPECIFIED, resolution_due, absl::Hours(1)},
                      Ctx(resolution_due))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecideRemindSla(s, RemindSla{crm::v1::RESOLUTION, resolution_due, absl::ZeroDuration()},
                            Ctx(resolution_due))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecideRemindSla(State(), RemindSla{crm::v1::RESOLUTION, resolution_due, absl::Hours(1)},
                            Ctx(resolution_due))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(RemindSlaTest, AReopeningsNewDeadlineIsRemindedAgain) {
  State s = StateIn(crm::v1::INVESTIGATING);
  const absl::Time first_due = T(s.resolution_deadline().due_time());
  const absl::Duration lead = absl::Hours(1);
  auto events = DecideRemindSla(s, RemindSla{crm::v1::RESOLUTION, first_due, lead},
                                Ctx(first_due - absl::Minutes(1)));
  ASSERT_THAT(*events, SizeIs(1));
  ApplyAll(s, *events, first_due - absl::Minutes(1));
  absl::Time now = first_due - absl::Seconds(30);
  Step(s, Command::kResolve, now);
  Step(s, Command::kRecordFollowUpVisit, now += absl::Hours(1));
  Step(s, Command::kReopen, now += absl::Hours(1));
  const absl::Time second_due = T(s.resolution_deadline().due_time());
  EXPECT_FALSE(s.resolution_deadline().reminded());
  events =
      DecideRemindSla(s, RemindSla{crm::v1::RESOLUTION, second_due, lead}, Ctx(second_due - lead));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(1));
}

// --- Apply -------------------------------------------------------------------------------------

Event Stamped(Event event, int64_t version, const std::string& aggregate = kName) {
  event.set_aggregate(aggregate);
  event.set_customer_id(kCustomerId);
  event.set_aggregate_version(version);
  *event.mutable_recorded_at() = Ts(kT0);
  return event;
}

TEST(ApplyTest, EnforcesVersionOrderAndAggregate) {
  Event filed = Stamped((*File(State(), kT0))[0], 1);
  State s;
  Event closed;
  closed.mutable_complaint_closed();
  EXPECT_EQ(Reason(Apply(s, Stamped(closed, 1))), "EVENT_OUT_OF_ORDER");
  EXPECT_EQ(Reason(Apply(s, Stamped(filed, 2))), "VERSION_MISMATCH");
  Event nameless = filed;
  nameless.clear_aggregate();
  EXPECT_EQ(Reason(Apply(s, nameless)), "COMPLAINT_MISMATCH");
  ASSERT_TRUE(Apply(s, filed).ok());
  EXPECT_EQ(Reason(Apply(s, Stamped(filed, 2))), "EVENT_OUT_OF_ORDER");
  EXPECT_EQ(Reason(Apply(s, Stamped(closed, 2, "customers/acme/complaints/other"))),
            "COMPLAINT_MISMATCH");
  Event empty = Stamped(Event(), 2);
  EXPECT_EQ(Apply(s, empty).code(), absl::StatusCode::kDataLoss);
  Event customer_event = Stamped(Event(), 2);
  customer_event.mutable_customer_tagged()->set_tag("x");
  EXPECT_EQ(Apply(s, customer_event).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(IsComplaintEvent(customer_event));
  EXPECT_TRUE(IsComplaintEvent(filed));
  EXPECT_EQ(s.version(), 1);
}

TEST(ApplyTest, SetsUpdateTimeFromRecordedAt) {
  State s;
  ApplyAll(s, *File(State(), kT0), kT0);
  ApplyAll(s, *RunCommand(Command::kAcknowledge, s, kT0 + absl::Hours(1)), kT0 + absl::Hours(1));
  EXPECT_EQ(T(s.create_time()), kT0);
  EXPECT_EQ(T(s.update_time()), kT0 + absl::Hours(1));
  EXPECT_EQ(s.etag(), "v2");
}

}  // namespace
}  // namespace crm::domain::complaint
