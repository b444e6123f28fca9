#include "domain/customer/customer_aggregate.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/customer/event_codec.h"
#include "domain/customer/validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
namespace ev = ::crm::events::v1;
using ::crm::v1::LifecycleStage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::string_view kId = "acme";
constexpr absl::string_view kName = "customers/acme";

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(
      static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

// A context whose e-mail index holds `owners` (normalized e-mail -> customer
// id).
DecideContext Context(std::map<std::string, std::string> owners = {}, absl::Time now = kNow) {
  DecideContext context;
  context.now = now;
  context.email_owner = [owners](absl::string_view email) -> std::optional<std::string> {
    auto it = owners.find(std::string(email));
    if (it == owners.end()) return std::nullopt;
    return it->second;
  };
  return context;
}

crm::v1::RegisterCustomerRequest RegisterRequest() {
  crm::v1::RegisterCustomerRequest request;
  auto* c = request.mutable_customer();
  c->set_display_name("Acme Trading 有限公司");
  c->set_kind(crm::v1::COMPANY);
  c->add_emails("Sales@Acme.example");
  c->add_phones("+86 21 5555-0100");
  c->set_region("Shanghai");
  c->set_industry("Retail");
  c->set_acquisition_source(crm::v1::REFERRAL);
  (*c->mutable_attributes())["tax_id"] = "91310000";
  request.set_request_id("req-1");
  return request;
}

// Stamps decided events as the command side would, then applies them.
void StampAndApply(State& state, const Events& events, absl::string_view id = kId,
                   absl::Time recorded_at = kNow) {
  for (Event event : events) {
    event.set_customer_id(std::string(id));
    event.set_aggregate_version(state.version() + 1);
    *event.mutable_recorded_at() = Ts(recorded_at);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = Ts(recorded_at);
    event.set_event_type(EventTypeName(event));
    event.set_schema_version(1);
    ASSERT_TRUE(Apply(state, event).ok());
  }
}

State Registered(crm::v1::RegisterCustomerRequest request = RegisterRequest()) {
  State state;
  auto events = DecideRegister(state, request, kId, Context());
  EXPECT_TRUE(events.ok()) << events.status();
  if (events.ok()) StampAndApply(state, *events);
  return state;
}

State AtStage(LifecycleStage stage) {
  State state = Registered();
  state.set_lifecycle_stage(stage);  // Decide reads only the state; how it got there is irrelevant.
  return state;
}

void ExpectInvalid(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(FirstField(status), field) << status;
}

template <typename T>
void ExpectInvalid(const absl::StatusOr<T>& result, const std::string& field) {
  ASSERT_FALSE(result.ok());
  ExpectInvalid(result.status(), field);
}

template <typename T>
void ExpectNoEvents(const absl::StatusOr<T>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(*result, IsEmpty());
}

crm::v1::UpdateCustomerRequest UpdateRequest() {
  crm::v1::UpdateCustomerRequest request;
  request.mutable_customer()->set_name(std::string(kName));
  return request;
}

crm::v1::ChangeLifecycleStageRequest StageRequest(LifecycleStage to) {
  crm::v1::ChangeLifecycleStageRequest request;
  request.set_name(std::string(kName));
  request.set_lifecycle_stage(to);
  return request;
}

crm::v1::RecordPurchaseRequest PurchaseRequest(int64_t amount_minor = 10'000,
                                               const std::string& currency = "CNY",
                                               absl::Time at = kNow - absl::Hours(1)) {
  crm::v1::RecordPurchaseRequest request;
  request.set_name(std::string(kName));
  auto* p = request.mutable_purchase();
  p->set_purchase_id("order-1");
  p->mutable_amount()->set_currency_code(currency);
  p->mutable_amount()->set_amount_minor(amount_minor);
  p->set_product("Widget");
  *p->mutable_purchased_at() = Ts(at);
  return request;
}

// ---------------------------------------------------------------------------
// Register

TEST(CustomerAggregateTest, RegisterEmitsNormalizedProfile) {
  auto request = RegisterRequest();
  request.mutable_customer()->set_name("customers/ignored");
  request.mutable_customer()->add_emails(" sales@ACME.example ");  // Duplicate once normalized.
  request.mutable_customer()->add_phones("+86-21-5555-0100");      // Duplicate once normalized.
  auto events = DecideRegister(State(), request, kId, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  const Event& event = (*events)[0];
  ASSERT_TRUE(event.has_customer_registered());
  const auto& profile = event.customer_registered().profile();
  EXPECT_EQ(profile.display_name(), "Acme Trading 有限公司");
  EXPECT_EQ(profile.kind(), ev::COMPANY);
  EXPECT_THAT(profile.emails(), ElementsAre("sales@acme.example"));
  EXPECT_THAT(profile.phones(), ElementsAre("+862155550100"));
  EXPECT_EQ(profile.region(), "Shanghai");
  EXPECT_EQ(profile.industry(), "Retail");
  EXPECT_EQ(profile.acquisition_source(), ev::REFERRAL);
  EXPECT_EQ(profile.attributes().at("tax_id"), "91310000");
  EXPECT_EQ(event.customer_registered().lifecycle_stage(), ev::POTENTIAL);
  // Decide leaves stamping to the caller.
  EXPECT_EQ(event.customer_id(), "");
  EXPECT_EQ(event.aggregate_version(), 0);
  EXPECT_EQ(event.event_id(), "");
  EXPECT_FALSE(event.has_recorded_at());
}

TEST(CustomerAggregateTest, RegisterAcceptsAnyFirstStageButChurned) {
  for (int s = crm::v1::POTENTIAL; s < crm::v1::CHURNED; ++s) {
    auto request = RegisterRequest();
    request.mutable_customer()->set_lifecycle_stage(static_cast<LifecycleStage>(s));
    auto events = DecideRegister(State(), request, kId, Context());
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_EQ((*events)[0].customer_registered().lifecycle_stage(), s);
  }
  auto request = RegisterRequest();
  request.mutable_customer()->set_lifecycle_stage(crm::v1::CHURNED);
  ExpectInvalid(DecideRegister(State(), request, kId, Context()), "customer.lifecycle_stage");
  request.mutable_customer()->set_lifecycle_stage(static_cast<LifecycleStage>(42));
  ExpectInvalid(DecideRegister(State(), request, kId, Context()), "customer.lifecycle_stage");
}

TEST(CustomerAggregateTest, RegisterRejectsInvalidFields) {
  struct Case {
    std::string name;
    std::function<void(crm::v1::RegisterCustomerRequest&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no display name", [](auto& r) { r.mutable_customer()->clear_display_name(); },
       "customer.display_name"},
      {"blank display name", [](auto& r) { r.mutable_customer()->set_display_name("  "); },
       "customer.display_name"},
      {"long display name",
       [](auto& r) { r.mutable_customer()->set_display_name(std::string(201, 'x')); },
       "customer.display_name"},
      {"no kind", [](auto& r) { r.mutable_customer()->clear_kind(); }, "customer.kind"},
      {"unknown kind",
       [](auto& r) { r.mutable_customer()->set_kind(static_cast<crm::v1::CustomerKind>(9)); },
       "customer.kind"},
      {"bad second email", [](auto& r) { r.mutable_customer()->add_emails("not-an-email"); },
       "customer.emails[1]"},
      {"too many emails",
       [](auto& r) {
         for (int i = 0; i < 10; ++i) r.mutable_customer()->add_emails(absl::StrCat(i, "@x.cn"));
       },
       "customer.emails"},
      {"bad phone", [](auto& r) { r.mutable_customer()->set_phones(0, "12"); },
       "customer.phones[0]"},
      {"too many phones",
       [](auto& r) {
         for (int i = 0; i < 10; ++i) r.mutable_customer()->add_phones("+86 1380013800");
       },
       "customer.phones"},
      {"long region", [](auto& r) { r.mutable_customer()->set_region(std::string(101, 'r')); },
       "customer.region"},
      {"long industry", [](auto& r) { r.mutable_customer()->set_industry(std::string(101, 'i')); },
       "customer.industry"},
      {"unknown source",
       [](auto& r) {
         r.mutable_customer()->set_acquisition_source(static_cast<crm::v1::AcquisitionSource>(77));
       },
       "customer.acquisition_source"},
      {"too many attributes",
       [](auto& r) {
         for (int i = 0; i < 50; ++i) {
           (*r.mutable_customer()->mutable_attributes())[absl::StrCat("k", i)] = "v";
         }
       },
       "customer.attributes"},
      {"empty attribute key",
       [](auto& r) { (*r.mutable_customer()->mutable_attributes())[""] = "v"; },
       "customer.attributes[\"\"]"},
      {"long attribute key",
       [](auto& r) { (*r.mutable_customer()->mutable_attributes())[std::string(65, 'k')] = "v"; },
       absl::StrCat("customer.attributes[\"", std::string(65, 'k'), "\"]")},
      {"long attribute value",
       [](auto& r) {
         (*r.mutable_customer()->mutable_attributes())["no\"te"] = std::string(1025, 'v');
       },
       "customer.attributes[\"no\\\"te\"]"},
      {"bad request id", [](auto& r) { r.set_request_id("id\nwith newline"); }, "request_id"},
      {"owner set", [](auto& r) { r.mutable_customer()->set_owner("ann"); }, "customer.owner"},
      {"team set", [](auto& r) { r.mutable_customer()->set_team("east"); }, "customer.team"},
      {"department set", [](auto& r) { r.mutable_customer()->set_department("sales"); },
       "customer.department"},
      {"tags set", [](auto& r) { r.mutable_customer()->add_tags("vip"); }, "customer.tags"},
      {"tier set", [](auto& r) { r.mutable_customer()->set_value_tier(crm::v1::HIGH_VALUE); },
       "customer.value_tier"},
      {"value set", [](auto& r) { r.mutable_customer()->mutable_value()->set_purchase_count(3); },
       "customer.value"},
      {"version set", [](auto& r) { r.mutable_customer()->set_version(4); }, "customer.version"},
      {"etag set", [](auto& r) { r.mutable_customer()->set_etag("v4"); }, "customer.etag"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto request = RegisterRequest();
    c.mutate(request);
    ExpectInvalid(DecideRegister(State(), request, kId, Context()), c.field);
  }
}

TEST(CustomerAggregateTest, RegisterRejectsInvalidCustomerId) {
  ExpectInvalid(DecideRegister(State(), RegisterRequest(), "Bad_Id", Context()), "customer_id");
  ExpectInvalid(DecideRegister(State(), RegisterRequest(), "", Context()), "customer_id");
}

TEST(CustomerAggregateTest, RegisterListsEveryViolation) {
  auto request = RegisterRequest();
  request.mutable_customer()->clear_display_name();
  request.mutable_customer()->clear_kind();
  request.mutable_customer()->set_emails(0, "bad");
  auto events = DecideRegister(State(), request, kId, Context());
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(ViolationFields(events.status()),
              ElementsAre("customer.display_name", "customer.kind", "customer.emails[0]"));
  EXPECT_EQ(Meta(events.status(), "field"), "customer.display_name");
}

TEST(CustomerAggregateTest, RegisterIgnoresNameAndTimes) {
  auto request = RegisterRequest();
  request.mutable_customer()->set_name("customers/other");
  *request.mutable_customer()->mutable_create_time() = Ts(kNow);
  EXPECT_TRUE(DecideRegister(State(), request, kId, Context()).ok());
}

TEST(CustomerAggregateTest, RegisterExistingIsAlreadyExists) {
  State state = Registered();
  auto events = DecideRegister(state, RegisterRequest(), kId, Context());
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "CUSTOMER_ALREADY_EXISTS");
}

TEST(CustomerAggregateTest, RegisterValidatesBeforeExistence) {
  auto request = RegisterRequest();
  request.mutable_customer()->clear_display_name();
  ExpectInvalid(DecideRegister(Registered(), request, kId, Context()), "customer.display_name");
}

TEST(CustomerAggregateTest, RegisterRejectsEmailOfAnotherCustomer) {
  auto events = DecideRegister(State(), RegisterRequest(), kId,
                               Context({{"sales@acme.example", "acme-old"}}));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "EMAIL_TAKEN");
  EXPECT_EQ(Meta(events.status(), "existing_customer"), "customers/acme-old");
  EXPECT_EQ(Meta(events.status(), "email"), "sales@acme.example");
}

TEST(CustomerAggregateTest, RegisterAcceptsEmailAlreadyIndexedForSameId) {
  EXPECT_TRUE(
      DecideRegister(State(), RegisterRequest(), kId, Context({{"sales@acme.example", "acme"}}))
          .ok());
}

TEST(CustomerAggregateTest, RegisterWithoutEmailOwnerLookupIsInternal) {
  DecideContext context;
  context.now = kNow;
  auto events = DecideRegister(State(), RegisterRequest(), kId, context);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInternal);
}

// ---------------------------------------------------------------------------
// Apply

TEST(CustomerAggregateTest, ApplyRegisteredSetsIdentityAndProfile) {
  State state = Registered();
  EXPECT_EQ(state.name(), kName);
  EXPECT_EQ(state.version(), 1);
  EXPECT_EQ(state.etag(), "v1");
  EXPECT_EQ(state.display_name(), "Acme Trading 有限公司");
  EXPECT_THAT(state.emails(), ElementsAre("sales@acme.example"));
  EXPECT_EQ(state.lifecycle_stage(), crm::v1::POTENTIAL);
  EXPECT_EQ(state.value_tier(), crm::v1::POTENTIAL_VALUE);
  EXPECT_EQ(state.create_time().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(state.update_time().seconds(), absl::ToUnixSeconds(kNow));
}

TEST(CustomerAggregateTest, ApplySetsUpdateTimeButKeepsCreateTime) {
  State state = Registered();
  auto events = DecideTag(
      state,
      [] {
        crm::v1::TagCustomerRequest r;
        r.set_name(std::string(kName));
        r.set_tag("vip");
        return r;
      }(),
      Context());
  ASSERT_TRUE(events.ok());
  StampAndApply(state, *events, kId, kNow + absl::Minutes(5));
  EXPECT_EQ(state.version(), 2);
  EXPECT_EQ(state.etag(), "v2");
  EXPECT_EQ(state.create_time().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(state.update_time().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(5)));
}

Event StampedTag(int64_t version, absl::string_view id = kId) {
  Event event;
  event.set_customer_id(std::string(id));
  event.set_aggregate_version(version);
  event.mutable_customer_tagged()->set_tag("vip");
  return event;
}

TEST(CustomerAggregateTest, ApplyRejectsVersionMismatch) {
  State state = Registered();
  for (int64_t version : {0, 1, 3, 10}) {
    SCOPED_TRACE(version);
    absl::Status status = Apply(state, StampedTag(version));
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_EQ(Reason(status), "VERSION_MISMATCH");
  }
  EXPECT_EQ(state.version(), 1);  // Unchanged.
  EXPECT_THAT(state.tags(), IsEmpty());
  EXPECT_TRUE(Apply(state, StampedTag(2)).ok());
}

TEST(CustomerAggregateTest, ApplyRejectsEventOfAnotherCustomer) {
  State state = Registered();
  absl::Status status = Apply(state, StampedTag(2, "other"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(status), "CUSTOMER_MISMATCH");
  EXPECT_EQ(Apply(state, StampedTag(2, "")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CustomerAggregateTest, ApplyRejectsEventWithoutPayload) {
  State state = Registered();
  Event event;
  event.set_customer_id(std::string(kId));
  event.set_aggregate_version(2);
  absl::Status status = Apply(state, event);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(state.version(), 1);
}

TEST(CustomerAggregateTest, ApplyRequiresRegistrationFirstAndOnlyOnce) {
  State empty;
  EXPECT_EQ(Apply(empty, StampedTag(1)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(empty.version(), 0);

  State state = Registered();
  Event again;
  again.set_customer_id(std::string(kId));
  again.set_aggregate_version(2);
  *again.mutable_customer_registered() = crm::events::v1::CustomerRegistered();
  EXPECT_EQ(Apply(state, again).code(), absl::StatusCode::kFailedPrecondition);
}

// ---------------------------------------------------------------------------
// Names and etags

TEST(CustomerAggregateTest, NamesAndEtags) {
  EXPECT_EQ(CustomerName("acme"), "customers/acme");
  auto id = ParseCustomerName("customers/acme-1", "name");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "acme-1");
  for (const std::string& bad : std::vector<std::string>{"", "acme", "customers/", "customers/Acme",
                                                         "customer/acme", "customers/acme/x"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ParseCustomerName(bad, "customer.name"), "customer.name");
  }
  EXPECT_EQ(Etag(0), "v0");
  EXPECT_EQ(Etag(7), "v7");
  auto version = ParseEtag("v42", "etag");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 42);
  for (const std::string& bad : std::vector<std::string>{
           "", "v", "42", "V4", "v-1", "v+1", "v1.0", "W/\"v1\"", "v1 ", "v99999999999999999999"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ParseEtag(bad, "etag"), "etag");
  }
}

TEST(CustomerAggregateTest, EventTypeNameFollowsPayload) {
  Event event;
  EXPECT_EQ(EventTypeName(event), "");
  event.mutable_customer_registered();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.CustomerRegistered");
  event.mutable_customer_profile_updated();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.CustomerProfileUpdated");
  event.mutable_lifecycle_stage_changed();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.LifecycleStageChanged");
  event.mutable_owner_assigned();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.OwnerAssigned");
  event.mutable_customer_tagged();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.CustomerTagged");
  event.mutable_customer_untagged();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.CustomerUntagged");
  event.mutable_purchase_recorded();
  EXPECT_EQ(EventTypeName(event), "crm.events.v1.PurchaseRecorded");
}

// ---------------------------------------------------------------------------
// Checks shared by every command on an existing customer

TEST(CustomerAggregateTest, NotFoundCarriesReasonAndResourceInfo) {
  auto events =
      DecideChangeLifecycleStage(State(), StageRequest(crm::v1::FIRST_CONTACT), Context());
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "CUSTOMER_NOT_FOUND");
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(crm::status::GetDetail(events.status(), &info));
  EXPECT_EQ(info.resource_name(), kName);
  EXPECT_EQ(info.resource_type(), "crm.v1.Customer");
}

TEST(CustomerAggregateTest, EveryCommandValidatesNameAndRequestIdBeforeExistence) {
  const State none;
  const auto ctx = Context();
  auto stage = StageRequest(crm::v1::FIRST_CONTACT);
  crm::v1::AssignOwnerRequest owner;
  owner.set_owner("ann");
  crm::v1::TagCustomerRequest tag;
  tag.set_tag("vip");
  crm::v1::UntagCustomerRequest untag;
  untag.set_tag("vip");
  auto purchase = PurchaseRequest();
  auto update = UpdateRequest();
  update.mutable_customer()->set_region("x");

  // Bad name.
  stage.set_name("acme");
  owner.set_name("customers/");
  tag.set_name("customers/UPPER");
  untag.set_name("");
  purchase.set_name("customers/a_b");
  update.mutable_customer()->set_name("acme");
  ExpectInvalid(DecideChangeLifecycleStage(none, stage, ctx), "name");
  ExpectInvalid(DecideAssignOwner(none, owner, ctx), "name");
  ExpectInvalid(DecideTag(none, tag, ctx), "name");
  ExpectInvalid(DecideUntag(none, untag, ctx), "name");
  ExpectInvalid(DecideRecordPurchase(none, purchase, ctx), "name");
  ExpectInvalid(DecideUpdate(none, update, ctx), "customer.name");

  // Bad request id (name fixed).
  const std::string bad_id(129, 'r');
  stage.set_name(std::string(kName));
  owner.set_name(std::string(kName));
  tag.set_name(std::string(kName));
  untag.set_name(std::string(kName));
  purchase.set_name(std::string(kName));
  update.mutable_customer()->set_name(std::string(kName));
  stage.set_request_id(bad_id);
  owner.set_request_id(bad_id);
  tag.set_request_id(bad_id);
  untag.set_request_id(bad_id);
  purchase.set_request_id(bad_id);
  update.set_request_id(bad_id);
  ExpectInvalid(DecideChangeLifecycleStage(none, stage, ctx), "request_id");
  ExpectInvalid(DecideAssignOwner(none, owner, ctx), "request_id");
  ExpectInvalid(DecideTag(none, tag, ctx), "request_id");
  ExpectInvalid(DecideUntag(none, untag, ctx), "request_id");
  ExpectInvalid(DecideRecordPurchase(none, purchase, ctx), "request_id");
  ExpectInvalid(DecideUpdate(none, update, ctx), "request_id");

  // Valid requests on a customer that does not exist.
  stage.clear_request_id();
  owner.clear_request_id();
  tag.clear_request_id();
  untag.clear_request_id();
  purchase.clear_request_id();
  update.clear_request_id();
  for (const absl::Status& status :
       {DecideChangeLifecycleStage(none, stage, ctx).status(),
        DecideAssignOwner(none, owner, ctx).status(), DecideTag(none, tag, ctx).status(),
        DecideUntag(none, untag, ctx).status(), DecideRecordPurchase(none, purchase, ctx).status(),
        DecideUpdate(none, update, ctx).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_EQ(Reason(status), "CUSTOMER_NOT_FOUND");
  }
}

TEST(CustomerAggregateTest, StaleEtagIsAborted) {
  State state = Registered();  // Etag "v1".
  auto request = StageRequest(crm::v1::FIRST_CONTACT);
  request.set_etag("v1");
  EXPECT_TRUE(DecideChangeLifecycleStage(state, request, Context()).ok());
  request.set_etag("v2");
  auto events = DecideChangeLifecycleStage(state, request, Context());
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Reason(events.status()), "ETAG_MISMATCH");
  EXPECT_EQ(Meta(events.status(), "current_etag"), "v1");
  EXPECT_EQ(Meta(events.status(), "etag"), "v2");
}

TEST(CustomerAggregateTest, StaleEtagIsAbortedEvenForNoOp) {
  State state = Registered();
  auto request = StageRequest(crm::v1::POTENTIAL);  // Already there.
  request.set_etag("v9");
  EXPECT_EQ(DecideChangeLifecycleStage(state, request, Context()).status().code(),
            absl::StatusCode::kAborted);
}

TEST(CustomerAggregateTest, MalformedEtagIsInvalidArgumentBeforeExistence) {
  auto request = StageRequest(crm::v1::FIRST_CONTACT);
  request.set_etag("7");
  ExpectInvalid(DecideChangeLifecycleStage(State(), request, Context()), "etag");
  ExpectInvalid(DecideChangeLifecycleStage(Registered(), request, Context()), "etag");
  crm::v1::TagCustomerRequest tag;
  tag.set_name(std::string(kName));
  tag.set_tag("vip");
  tag.set_etag("W/\"v1\"");
  ExpectInvalid(DecideTag(Registered(), tag, Context()), "etag");
}

// ---------------------------------------------------------------------------
// Update

TEST(CustomerAggregateTest, UpdateWithEmptyMaskUpdatesSetFields) {
  State state = Registered();
  auto request = UpdateRequest();
  request.mutable_customer()->set_region("Beijing");
  request.mutable_customer()->set_display_name("Acme Trading 有限公司");  // Same: not changed.
  request.mutable_customer()->set_owner("ignored");  // Not a profile field: ignored.
  auto events = DecideUpdate(state, request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  const auto& updated = (*events)[0].customer_profile_updated();
  EXPECT_THAT(updated.changed_paths(), ElementsAre("region"));
  EXPECT_EQ(updated.profile().region(), "Beijing");
  EXPECT_EQ(updated.profile().display_name(), "");  // Only changed fields.
}

TEST(CustomerAggregateTest, UpdateReportsChangedPathsInCanonicalOrder) {
  State state = Registered();
  auto request = UpdateRequest();
  for (const char* path : {"attributes", "region", "kind", "emails", "display_name"}) {
    request.mutable_update_mask()->add_paths(path);
  }
  auto* c = request.mutable_customer();
  c->set_display_name("Acme Ltd");
  c->set_kind(crm::v1::COMPANY);  // Unchanged.
  c->add_emails("SALES@acme.example");
  c->add_emails("info@acme.example");
  c->set_region("Shanghai");  // Unchanged.
  // attributes empty in the request: cleared.
  auto events = DecideUpdate(state, request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  const auto& updated = (*events)[0].customer_profile_updated();
  EXPECT_THAT(updated.changed_paths(), ElementsAre("display_name", "emails", "attributes"));
  EXPECT_THAT(updated.profile().emails(), ElementsAre("sales@acme.example", "info@acme.example"));

  StampAndApply(state, *events);
  EXPECT_EQ(state.display_name(), "Acme Ltd");
  EXPECT_THAT(state.emails(), ElementsAre("sales@acme.example", "info@acme.example"));
  EXPECT_THAT(state.attributes(), IsEmpty());
  EXPECT_EQ(state.region(), "Shanghai");
  EXPECT_THAT(state.phones(),
              ElementsAre("+862155550100"));  // Not in the event: untouched.
  EXPECT_EQ(state.version(), 2);
}

TEST(CustomerAggregateTest, UpdateWithStarReplacesEveryProfileField) {
  State state = Registered();
  auto request = UpdateRequest();
  request.mutable_update_mask()->add_paths("*");
  request.mutable_customer()->set_display_name("Acme");
  request.mutable_customer()->set_kind(crm::v1::COMPANY);
  auto events = DecideUpdate(state, request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_THAT((*events)[0].customer_profile_updated().changed_paths(),
              ElementsAre("display_name", "emails", "phones", "region", "industry",
                          "acquisition_source", "attributes"));
  StampAndApply(state, *events);
  EXPECT_THAT(state.emails(), IsEmpty());
  EXPECT_EQ(state.region(), "");
  EXPECT_EQ(state.acquisition_source(), crm::v1::ACQUISITION_SOURCE_UNSPECIFIED);
}

TEST(CustomerAggregateTest, UpdateWithStarStillRequiresDisplayNameAndKind) {
  auto request = UpdateRequest();
  request.mutable_update_mask()->add_paths("*");
  auto events = DecideUpdate(Registered(), request, Context());
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(ViolationFields(events.status()),
              ElementsAre("customer.display_name", "customer.kind"));
}

TEST(CustomerAggregateTest, UpdateRejectsUnknownOrForbiddenMaskPaths) {
  for (const std::string& bad : std::vector<std::string>{"owner", "lifecycle_stage", "tags", "name",
                                                         "version", "nope", "attributes.x", ""}) {
    SCOPED_TRACE(bad);
    auto request = UpdateRequest();
    request.mutable_update_mask()->add_paths("region");
    request.mutable_update_mask()->add_paths(bad);
    ExpectInvalid(DecideUpdate(Registered(), request, Context()), "update_mask.paths[1]");
  }
  auto request = UpdateRequest();
  request.mutable_update_mask()->add_paths("region");
  request.mutable_update_mask()->add_paths("*");
  ExpectInvalid(DecideUpdate(Registered(), request, Context()), "update_mask.paths[1]");
}

TEST(CustomerAggregateTest, UpdateValidatesMaskedValuesOnly) {
  auto request = UpdateRequest();
  request.mutable_update_mask()->add_paths("emails");
  request.mutable_customer()->add_emails("ok@acme.example");
  request.mutable_customer()->add_emails("bad");
  request.mutable_customer()->set_region(std::string(500, 'r'));  // Not masked: ignored.
  auto events = DecideUpdate(Registered(), request, Context());
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(ViolationFields(events.status()), ElementsAre("customer.emails[1]"));

  auto display = UpdateRequest();
  display.mutable_update_mask()->add_paths("display_name");  // Masked but empty: required.
  ExpectInvalid(DecideUpdate(Registered(), display, Context()), "customer.display_name");
}

TEST(CustomerAggregateTest, UpdateWithNothingChangedEmitsNothing) {
  State state = Registered();
  auto request = UpdateRequest();
  request.mutable_customer()->set_region("Shanghai");
  request.mutable_customer()->add_emails(" Sales@ACME.example");  // Same once normalized.
  ExpectNoEvents(DecideUpdate(state, request, Context()));
  ExpectNoEvents(DecideUpdate(state, UpdateRequest(), Context()));  // Nothing set at all.
}

TEST(CustomerAggregateTest, UpdateRejectsEmailOfAnotherCustomer) {
  State state = Registered();
  auto request = UpdateRequest();
  request.mutable_customer()->add_emails("sales@acme.example");
  request.mutable_customer()->add_emails("boss@other.example");
  auto events = DecideUpdate(
      state, request, Context({{"sales@acme.example", "acme"}, {"boss@other.example", "other"}}));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "EMAIL_TAKEN");
  EXPECT_EQ(Meta(events.status(), "existing_customer"), "customers/other");
}

TEST(CustomerAggregateTest, UpdateChecksExistenceThenEtag) {
  auto request = UpdateRequest();
  request.mutable_customer()->set_region("x");
  request.set_etag("v5");
  EXPECT_EQ(DecideUpdate(State(), request, Context()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DecideUpdate(Registered(), request, Context()).status().code(),
            absl::StatusCode::kAborted);
  request.set_etag("v1");
  EXPECT_TRUE(DecideUpdate(Registered(), request, Context()).ok());
}

// ---------------------------------------------------------------------------
// Lifecycle

constexpr LifecycleStage kStages[] = {crm::v1::POTENTIAL,      crm::v1::FIRST_CONTACT,
                                      crm::v1::NEED_CONFIRMED, crm::v1::PURCHASE_DECISION,
                                      crm::v1::AFTER_SALES,    crm::v1::LOYAL,
                                      crm::v1::CHURNED};

// The documented table (proto/crm/v1/README.md): row = from, column = to, in
// kStages order.
constexpr bool Y = true;   // Allowed.
constexpr bool n = false;  // Refused (or no move, on the diagonal).
// clang-format off
constexpr bool kTable[7][7] = {
    //                   POT FC  NC  PD  AS  LOY CHU
    /* POTENTIAL */        {n,  Y,  n,  n,  n,  n,  Y},
    /* FIRST_CONTACT */    {n,  n,  Y,  n,  n,  n,  Y},
    /* NEED_CONFIRMED */   {n,  Y,  n,  Y,  n,  n,  Y},
    /* PURCHASE_DECISION */{n,  n,  Y,  n,  Y,  n,  Y},
    /* AFTER_SALES */      {n,  n,  n,  Y,  n,  Y,  Y},
    /* LOYAL */            {n,  n,  n,  n,  Y,  n,  Y},
    /* CHURNED */          {n,  Y,  n,  n,  n,  n,  n},
};
// clang-format on

TEST(CustomerAggregateTest, TransitionTableMatchesDocumentation) {
  for (int i = 0; i < 7; ++i) {
    for (int j = 0; j < 7; ++j) {
      EXPECT_EQ(IsAllowedTransition(kStages[i], kStages[j]), kTable[i][j])
          << crm::v1::LifecycleStage_Name(kStages[i]) << " -> "
          << crm::v1::LifecycleStage_Name(kStages[j]);
    }
  }
  EXPECT_FALSE(IsAllowedTransition(crm::v1::LIFECYCLE_STAGE_UNSPECIFIED, crm::v1::POTENTIAL));
  EXPECT_FALSE(IsAllowedTransition(crm::v1::POTENTIAL, crm::v1::LIFECYCLE_STAGE_UNSPECIFIED));
  EXPECT_FALSE(IsAllowedTransition(static_cast<LifecycleStage>(8), crm::v1::CHURNED));
}

TEST(CustomerAggregateTest, DecideChangeLifecycleStageFollowsTheTable) {
  for (int i = 0; i < 7; ++i) {
    for (int j = 0; j < 7; ++j) {
      const LifecycleStage from = kStages[i];
      const LifecycleStage to = kStages[j];
      SCOPED_TRACE(absl::StrCat(crm::v1::LifecycleStage_Name(from), " -> ",
                                crm::v1::LifecycleStage_Name(to)));
      auto request = StageRequest(to);
      request.set_reason("table");
      auto events = DecideChangeLifecycleStage(AtStage(from), request, Context());
      if (from == to) {
        ExpectNoEvents(events);
      } else if (kTable[i][j]) {
        ASSERT_TRUE(events.ok()) << events.status();
        ASSERT_THAT(*events, SizeIs(1));
        const auto& changed = (*events)[0].lifecycle_stage_changed();
        EXPECT_EQ(ToApi(changed.from_stage()), from);
        EXPECT_EQ(ToApi(changed.to_stage()), to);
        EXPECT_EQ(changed.reason(), "table");
      } else {
        ASSERT_FALSE(events.ok());
        EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_EQ(Reason(events.status()), "TRANSITION_NOT_ALLOWED");
        EXPECT_EQ(Meta(events.status(), "from"), crm::v1::LifecycleStage_Name(from));
        EXPECT_EQ(Meta(events.status(), "to"), crm::v1::LifecycleStage_Name(to));
      }
    }
  }
}

TEST(CustomerAggregateTest, RejectsStageSkip) {
  auto events =
      DecideChangeLifecycleStage(Registered(), StageRequest(crm::v1::NEED_CONFIRMED), Context());
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(events.status().message()), HasSubstr("POTENTIAL"));
  EXPECT_THAT(std::string(events.status().message()), HasSubstr("NEED_CONFIRMED"));
}

TEST(CustomerAggregateTest, ChurnedCustomerCanOnlyBeWonBack) {
  State state = AtStage(crm::v1::CHURNED);
  EXPECT_EQ(
      DecideChangeLifecycleStage(state, StageRequest(crm::v1::LOYAL), Context()).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      DecideChangeLifecycleStage(state, StageRequest(crm::v1::FIRST_CONTACT), Context()).ok());
}

TEST(CustomerAggregateTest, ChangeLifecycleStageRejectsBadTargetAndReason) {
  ExpectInvalid(DecideChangeLifecycleStage(
                    Registered(), StageRequest(crm::v1::LIFECYCLE_STAGE_UNSPECIFIED), Context()),
                "lifecycle_stage");
  ExpectInvalid(DecideChangeLifecycleStage(
                    Registered(), StageRequest(static_cast<LifecycleStage>(42)), Context()),
                "lifecycle_stage");
  auto request = StageRequest(crm::v1::FIRST_CONTACT);
  request.set_reason(std::string(kMaxReason, 'r'));
  EXPECT_TRUE(DecideChangeLifecycleStage(Registered(), request, Context()).ok());
  request.set_reason(std::string(kMaxReason + 1, 'r'));
  ExpectInvalid(DecideChangeLifecycleStage(Registered(), request, Context()), "reason");
}

TEST(CustomerAggregateTest, LifecycleChainThroughApply) {
  State state = Registered();
  for (LifecycleStage to :
       {crm::v1::FIRST_CONTACT, crm::v1::NEED_CONFIRMED, crm::v1::PURCHASE_DECISION,
        crm::v1::AFTER_SALES, crm::v1::LOYAL, crm::v1::CHURNED, crm::v1::FIRST_CONTACT}) {
    auto request = StageRequest(to);
    request.set_etag(state.etag());
    auto events = DecideChangeLifecycleStage(state, request, Context());
    ASSERT_TRUE(events.ok()) << events.status();
    StampAndApply(state, *events);
    EXPECT_EQ(state.lifecycle_stage(), to);
  }
  EXPECT_EQ(state.version(), 8);
  EXPECT_EQ(state.etag(), "v8");
}

// ---------------------------------------------------------------------------
// Owner

crm::v1::AssignOwnerRequest OwnerRequest(const std::string& owner, const std::string& team = "",
                                         const std::string& department = "") {
  crm::v1::AssignOwnerRequest request;
  request.set_name(std::string(kName));
  request.set_owner(owner);
  request.set_team(team);
  request.set_department(department);
  return request;
}

TEST(CustomerAggregateTest, AssignOwnerValidatesFields) {
  ExpectInvalid(DecideAssignOwner(Registered(), OwnerRequest(""), Context()), "owner");
  ExpectInvalid(DecideAssignOwner(Registered(), OwnerRequest("ann lee"), Context()), "owner");
  ExpectInvalid(
      DecideAssignOwner(Registered(), OwnerRequest("ann", std::string(101, 't')), Context()),
      "team");
  ExpectInvalid(
      DecideAssignOwner(Registered(), OwnerRequest("ann", "", std::string(101, 'd')), Context()),
      "department");
}

TEST(CustomerAggregateTest, AssignOwnerRecordsPreviousOwner) {
  State state = Registered();
  auto first = DecideAssignOwner(state, OwnerRequest("ann", "east", "sales"), Context());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_THAT(*first, SizeIs(1));
  EXPECT_EQ((*first)[0].owner_assigned().previous_owner(), "");
  StampAndApply(state, *first);
  EXPECT_EQ(state.owner(), "ann");
  EXPECT_EQ(state.team(), "east");
  EXPECT_EQ(state.department(), "sales");

  ExpectNoEvents(DecideAssignOwner(state, OwnerRequest("ann", "east", "sales"), Context()));

  auto moved = DecideAssignOwner(state, OwnerRequest("ann", "west", "sales"), Context());
  ASSERT_TRUE(moved.ok());
  ASSERT_THAT(*moved, SizeIs(1));  // Same owner, new team: a change.

  auto second = DecideAssignOwner(state, OwnerRequest("bob"), Context());
  ASSERT_TRUE(second.ok());
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*second)[0].owner_assigned().owner(), "bob");
  EXPECT_EQ((*second)[0].owner_assigned().previous_owner(), "ann");
  StampAndApply(state, *second);
  EXPECT_EQ(state.owner(), "bob");
  EXPECT_EQ(state.team(), "");
}

TEST(CustomerAggregateTest, UnassignOwnerClearsTheOwner) {
  State state = Registered();
  crm::v1::UnassignOwnerRequest request;
  request.set_name(state.name());
  request.set_reason("left the account");
  // No owner: nothing to clear.
  ExpectNoEvents(DecideUnassignOwner(state, request, Context()));

  auto assigned =
      DecideAssignOwner(state, OwnerRequest("ann", "teams/east", "departments/sales"), Context());
  ASSERT_TRUE(assigned.ok());
  StampAndApply(state, *assigned);
  auto cleared = DecideUnassignOwner(state, request, Context());
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  ASSERT_THAT(*cleared, SizeIs(1));
  EXPECT_EQ((*cleared)[0].owner_unassigned().previous_owner(), "ann");
  EXPECT_EQ((*cleared)[0].owner_unassigned().reason(), "left the account");
  StampAndApply(state, *cleared);
  EXPECT_EQ(state.owner(), "");
  EXPECT_EQ(state.team(), "");
  EXPECT_EQ(state.department(), "");
  ExpectNoEvents(DecideUnassignOwner(state, request, Context()));
}

TEST(CustomerAggregateTest, UnassignOwnerValidatesTheRequest) {
  crm::v1::UnassignOwnerRequest request;
  request.set_name("acme");
  ExpectInvalid(DecideUnassignOwner(Registered(), request, Context()), "name");
  request.set_name(Registered().name());
  request.set_reason(std::string(501, 'x'));
  ExpectInvalid(DecideUnassignOwner(Registered(), request, Context()), "reason");
  request.set_reason("");
  request.set_etag("v9");
  EXPECT_EQ(DecideUnassignOwner(Registered(), request, Context()).status().code(),
            absl::StatusCode::kAborted);
}

// ---------------------------------------------------------------------------
// Tags

crm::v1::TagCustomerRequest TagRequest(const std::string& tag) {
  crm::v1::TagCustomerRequest request;
  request.set_name(std::string(kName));
  request.set_tag(tag);
  return request;
}

crm::v1::UntagCustomerRequest UntagRequest(const std::string& tag) {
  crm::v1::UntagCustomerRequest request;
  request.set_name(std::string(kName));
  request.set_tag(tag);
  return request;
}

TEST(CustomerAggregateTest, TagNormalizesAndKeepsTagsSorted) {
  State state = Registered();
  for (const char* tag : {"VIP", "b2b", "region:east", "Alpha"}) {
    auto events = DecideTag(state, TagRequest(tag), Context());
    ASSERT_TRUE(events.ok()) << events.status();
    StampAndApply(state, *events);
  }
  EXPECT_THAT(state.tags(), ElementsAre("alpha", "b2b", "region:east", "vip"));
  ExpectNoEvents(DecideTag(state, TagRequest(" vip "), Context()));

  auto untag = DecideUntag(state, UntagRequest("B2B"), Context());
  ASSERT_TRUE(untag.ok());
  ASSERT_THAT(*untag, SizeIs(1));
  EXPECT_EQ((*untag)[0].customer_untagged().tag(), "b2b");
  StampAndApply(state, *untag);
  EXPECT_THAT(state.tags(), ElementsAre("alpha", "region:east", "vip"));
  ExpectNoEvents(DecideUntag(state, UntagRequest("b2b"), Context()));
}

TEST(CustomerAggregateTest, TagRejectsBadTag) {
  ExpectInvalid(DecideTag(Registered(), TagRequest("-vip"), Context()), "tag");
  ExpectInvalid(DecideTag(Registered(), TagRequest(""), Context()), "tag");
  ExpectInvalid(DecideUntag(Registered(), UntagRequest("v i p"), Context()), "tag");
}

TEST(CustomerAggregateTest, RejectsTooManyTags) {
  State state = Registered();
  for (size_t i = 0; i < kMaxTags; ++i) {
    auto events = DecideTag(state, TagRequest(absl::StrCat("t", i)), Context());
    ASSERT_TRUE(events.ok()) << events.status();
    StampAndApply(state, *events);
  }
  ASSERT_EQ(state.tags_size(), static_cast<int>(kMaxTags));
  auto events = DecideTag(state, TagRequest("one-more"), Context());
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "TOO_MANY_TAGS");
  ExpectNoEvents(DecideTag(state, TagRequest("t7"), Context()));  // Already tagged: fine.
}

// ---------------------------------------------------------------------------
// Purchases and value

TEST(CustomerAggregateTest, RecordPurchaseValidatesFields) {
  struct Case {
    std::string name;
    std::function<void(crm::v1::RecordPurchaseRequest&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no purchase", [](auto& r) { r.clear_purchase(); }, "purchase"},
      {"no amount", [](auto& r) { r.mutable_purchase()->clear_amount(); }, "purchase.amount"},
      {"lower-case currency",
       [](auto& r) { r.mutable_purchase()->mutable_amount()->set_currency_code("cny"); },
       "purchase.amount.currency_code"},
      {"no currency",
       [](auto& r) { r.mutable_purchase()->mutable_amount()->clear_currency_code(); },
       "purchase.amount.currency_code"},
      {"zero amount", [](auto& r) { r.mutable_purchase()->mutable_amount()->set_amount_minor(0); },
       "purchase.amount.amount_minor"},
      {"negative amount",
       [](auto& r) { r.mutable_purchase()->mutable_amount()->set_amount_minor(-5); },
       "purchase.amount.amount_minor"},
      {"huge amount",
       [](auto& r) {
         r.mutable_purchase()->mutable_amount()->set_amount_minor(kMaxAmountMinor + 1);
       },
       "purchase.amount.amount_minor"},
      {"no product", [](auto& r) { r.mutable_purchase()->clear_product(); }, "purchase.product"},
      {"long product", [](auto& r) { r.mutable_purchase()->set_product(std::string(201, 'p')); },
       "purchase.product"},
      {"no time", [](auto& r) { r.mutable_purchase()->clear_purchased_at(); },
       "purchase.purchased_at"},
      {"bad nanos",
       [](auto& r) { r.mutable_purchase()->mutable_purchased_at()->set_nanos(1'000'000'000); },
       "purchase.purchased_at"},
      {"year 10000",
       [](auto& r) { r.mutable_purchase()->mutable_purchased_at()->set_seconds(253'402'300'800); },
       "purchase.purchased_at"},
      {"in the future",
       [](auto& r) {
         *r.mutable_purchase()->mutable_purchased_at() =
             Ts(kNow + absl::Hours(24) + absl::Seconds(1));
       },
       "purchase.purchased_at"},
      {"long purchase id",
       [](auto& r) { r.mutable_purchase()->set_purchase_id(std::string(65, 'o')); },
       "purchase.purchase_id"},
      {"non-printable purchase id",
       [](auto& r) { r.mutable_purchase()->set_purchase_id("order\t1"); }, "purchase.purchase_id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto request = PurchaseRequest();
    c.mutate(request);
    ExpectInvalid(DecideRecordPurchase(Registered(), request, Context()), c.field);
  }
}

TEST(CustomerAggregateTest, RecordPurchaseAcceptsLimits) {
  auto request = PurchaseRequest(kMaxAmountMinor, "USD", kNow + absl::Hours(24));
  request.mutable_purchase()->clear_purchase_id();  // Optional: the handler may fill it.
  request.mutable_purchase()->set_product(std::string(200, 'p'));
  auto events = DecideRecordPurchase(Registered(), request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].purchase_recorded().purchase().purchase_id(), "");
}

TEST(CustomerAggregateTest, RecordPurchaseSetsOccurredAtToPurchaseTime) {
  const absl::Time at = kNow - absl::Hours(72);
  auto events = DecideRecordPurchase(Registered(), PurchaseRequest(500, "CNY", at), Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].occurred_at().seconds(), absl::ToUnixSeconds(at));
  EXPECT_EQ((*events)[0].purchase_recorded().purchase().product(), "Widget");
  EXPECT_FALSE((*events)[0].has_recorded_at());
}

TEST(CustomerAggregateTest, TierForThresholds) {
  crm::v1::ValueFigures figures;
  EXPECT_EQ(TierFor(figures), crm::v1::POTENTIAL_VALUE);
  figures.set_purchase_count(1);
  auto* cny = figures.add_totals();
  cny->set_currency_code("CNY");
  cny->set_total_minor(999'999);
  EXPECT_EQ(TierFor(figures), crm::v1::ORDINARY);
  cny->set_total_minor(1'000'000);
  EXPECT_EQ(TierFor(figures), crm::v1::HIGH_VALUE);
  cny->set_total_minor(10);
  figures.set_purchase_count(9);
  EXPECT_EQ(TierFor(figures), crm::v1::ORDINARY);
  figures.set_purchase_count(10);
  EXPECT_EQ(TierFor(figures), crm::v1::HIGH_VALUE);
  // Totals in different currencies are not added up.
  figures.set_purchase_count(2);
  cny->set_total_minor(600'000);
  auto* usd = figures.add_totals();
  usd->set_currency_code("USD");
  usd->set_total_minor(600'000);
  EXPECT_EQ(TierFor(figures), crm::v1::ORDINARY);
}

TEST(CustomerAggregateTest, PurchasesFoldIntoValueAndTier) {
  State state = Registered();
  auto record = [&](int64_t amount, const std::string& currency, absl::Time at) {
    auto events = DecideRecordPurchase(state, PurchaseRequest(amount, currency, at), Context());
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) return ev::VALUE_TIER_UNSPECIFIED;
    StampAndApply(state, *events);
    return (*events)[0].purchase_recorded().new_value_tier();
  };
  const absl::Time t1 = kNow - absl::Hours(10);
  const absl::Time t0 = kNow - absl::Hours(20);
  EXPECT_EQ(record(100, "USD", t1),
            ev::ORDINARY);  // First purchase: tier changes.
  EXPECT_EQ(state.value_tier(), crm::v1::ORDINARY);
  EXPECT_EQ(record(200, "CNY", t0),
            ev::VALUE_TIER_UNSPECIFIED);  // Unchanged.
  EXPECT_EQ(record(300, "USD", t0), ev::VALUE_TIER_UNSPECIFIED);

  ASSERT_EQ(state.value().totals_size(), 2);
  EXPECT_EQ(state.value().totals(0).currency_code(), "CNY");  // Sorted by code.
  EXPECT_EQ(state.value().totals(0).total_minor(), 200);
  EXPECT_EQ(state.value().totals(0).purchase_count(), 1);
  EXPECT_EQ(state.value().totals(1).currency_code(), "USD");
  EXPECT_EQ(state.value().totals(1).total_minor(), 400);
  EXPECT_EQ(state.value().totals(1).purchase_count(), 2);
  EXPECT_EQ(state.value().purchase_count(), 3);
  // An older purchase does not move the last purchase time back.
  EXPECT_EQ(state.value().last_purchase_time().seconds(), absl::ToUnixSeconds(t1));

  EXPECT_EQ(record(999'300, "CNY", t0),
            ev::VALUE_TIER_UNSPECIFIED);              // CNY at 999,500.
  EXPECT_EQ(record(500, "CNY", t0), ev::HIGH_VALUE);  // CNY at 1,000,000.
  EXPECT_EQ(state.value_tier(), crm::v1::HIGH_VALUE);
  EXPECT_EQ(state.version(), 6);
}

TEST(CustomerAggregateTest, TenthPurchaseMakesHighValue) {
  State state = Registered();
  for (int i = 1; i <= 10; ++i) {
    auto events = DecideRecordPurchase(state, PurchaseRequest(100), Context());
    ASSERT_TRUE(events.ok()) << events.status();
    const auto tier = (*events)[0].purchase_recorded().new_value_tier();
    if (i == 1) {
      EXPECT_EQ(tier, ev::ORDINARY);
    } else if (i == 10) {
      EXPECT_EQ(tier, ev::HIGH_VALUE);
    } else {
      EXPECT_EQ(tier, ev::VALUE_TIER_UNSPECIFIED) << i;
    }
    StampAndApply(state, *events);
  }
  EXPECT_EQ(state.value_tier(), crm::v1::HIGH_VALUE);
  EXPECT_EQ(state.value().purchase_count(), 10);
}

// ---------------------------------------------------------------------------
// Chains

TEST(CustomerAggregateTest, RegisterApplyDecideChainWithEtags) {
  State state = Registered();
  const std::string etag_before = state.etag();

  auto update = UpdateRequest();
  update.set_etag(etag_before);
  update.mutable_customer()->set_industry("Wholesale");
  auto events = DecideUpdate(state, update, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  StampAndApply(state, *events);
  EXPECT_EQ(state.industry(), "Wholesale");
  EXPECT_EQ(state.etag(), "v2");

  // A writer still holding the old etag loses.
  auto owner = OwnerRequest("ann");
  owner.set_etag(etag_before);
  EXPECT_EQ(DecideAssignOwner(state, owner, Context()).status().code(), absl::StatusCode::kAborted);
  owner.set_etag(state.etag());
  events = DecideAssignOwner(state, owner, Context());
  ASSERT_TRUE(events.ok());
  StampAndApply(state, *events);
  EXPECT_EQ(state.version(), 3);

  // Replaying the same events onto an empty state gives the same customer.
  State replayed = Registered();
  StampAndApply(replayed, *DecideUpdate(replayed, update, Context()));
  StampAndApply(replayed, *DecideAssignOwner(replayed, OwnerRequest("ann"), Context()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(replayed, state))
      << replayed.DebugString() << "\n"
      << state.DebugString();
}

// External ids: set on register and by update (path "external_id"), unique like e-mails.
DecideContext ExternalIds(std::map<std::string, std::string> holders) {
  DecideContext context = Context();
  context.external_id_owner = [holders](absl::string_view id) -> std::optional<std::string> {
    auto it = holders.find(std::string(id));
    if (it == holders.end()) return std::nullopt;
    return it->second;
  };
  return context;
}

TEST(CustomerAggregateTest, ExternalIdIsRegisteredAndUpdated) {
  auto request = RegisterRequest();
  request.mutable_customer()->set_external_id("ERP-1");
  State state;
  auto events = DecideRegister(state, request, kId, ExternalIds({}));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->front().customer_registered().profile().external_id(), "ERP-1");
  StampAndApply(state, *events);
  EXPECT_EQ(state.external_id(), "ERP-1");

  auto update = UpdateRequest();
  update.mutable_customer()->set_external_id("ERP-2");
  auto updated = DecideUpdate(state, update, ExternalIds({{"ERP-1", std::string(kId)}}));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_THAT(updated->front().customer_profile_updated().changed_paths(),
              ElementsAre("external_id"));
  StampAndApply(state, *updated);
  EXPECT_EQ(state.external_id(), "ERP-2");
  ExpectNoEvents(DecideUpdate(state, update, ExternalIds({{"ERP-2", std::string(kId)}})));

  // Cleared by naming the path with an empty value.
  update.mutable_customer()->clear_external_id();
  update.mutable_update_mask()->add_paths("external_id");
  auto cleared = DecideUpdate(state, update, ExternalIds({}));
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  StampAndApply(state, *cleared);
  EXPECT_TRUE(state.external_id().empty());
}

TEST(CustomerAggregateTest, ExternalIdBelongsToOneCustomer) {
  auto request = RegisterRequest();
  request.mutable_customer()->set_external_id("ERP-1");
  auto taken = DecideRegister(State(), request, kId, ExternalIds({{"ERP-1", "other"}}));
  ASSERT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(taken.status()), "EXTERNAL_ID_TAKEN");
  EXPECT_EQ(Meta(taken.status(), "existing_customer"), "customers/other");

  State state = Registered();
  auto update = UpdateRequest();
  update.mutable_customer()->set_external_id("ERP-1");
  auto refused = DecideUpdate(state, update, ExternalIds({{"ERP-1", "other"}}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(CustomerAggregateTest, ExternalIdShape) {
  for (const char* bad : {" lead", "trail ", "tab\tinside", "line\nbreak"}) {
    auto request = RegisterRequest();
    request.mutable_customer()->set_external_id(bad);
    ExpectInvalid(DecideRegister(State(), request, kId, ExternalIds({})), "customer.external_id");
  }
  auto request = RegisterRequest();
  request.mutable_customer()->set_external_id(std::string(kMaxExternalId + 1, 'x'));
  ExpectInvalid(DecideRegister(State(), request, kId, ExternalIds({})), "customer.external_id");
  request.mutable_customer()->set_external_id("旧系统-00042 / A");
  EXPECT_TRUE(DecideRegister(State(), request, kId, ExternalIds({})).ok());
}

}  // namespace
}  // namespace crm::domain::customer
