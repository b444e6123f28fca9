#include "services/customer/customer_command_handler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "domain/customer/email_reservation.h"
#include "domain/customer/validation.h"
#include "domain/org/org_rules.h"
#include "services/access/owner_place.h"
#include "services/command/command_executor.h"
#include "services/customer/customer_kind.h"

namespace crm::services::customer {

std::string CustomerIdFor(const crm::v1::RegisterCustomerRequest& request) {
  return command::IdForCreate(request.customer_id(), "crm.v1.RegisterCustomer",
                              request.request_id());
}

namespace {

EmailReservations::Request ReservationRequest(domain::customer::ReservedKey kind,
                                              const std::string& key,
                                              const std::string& customer_id) {
  EmailReservations::Request request;
  if (kind == domain::customer::ReservedKey::kExternalId) {
    request.set_external_id(key);
  } else {
    request.set_email(key);
  }
  request.set_customer_id(customer_id);
  return request;
}

}  // namespace

CustomerCommandHandler::CustomerCommandHandler(command::CommandExecutor* executor,
                                               EmailReservations* reservations, Options options)
    : executor_(executor), reservations_(reservations), options_(std::move(options)) {}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Execute(
    const std::string& customer_id, const std::string& request_id, const rpc::CallContext& call,
    const DecideFn& decide) {
  const command::Target target{.stream_key = customer_id,
                               .customer_id = customer_id,
                               .aggregate = domain::customer::CustomerName(customer_id)};
  // E-mail and external id claims run before the command takes its locks (a claim is a command on
  // another aggregate, maybe on another replica; the executor's locks do not nest). A dry run of
  // the rules on the state as it is now says which keys the command sets, and whether it gets as
  // far as the e-mail and external id checks at all (a malformed or refused command claims
  // nothing). A retried request id claims nothing either: it gets its first answer.
  struct Claim {
    std::string holder;
    absl::Time usable_until;  // command clock
  };
  using Key = std::pair<domain::customer::ReservedKey, std::string>;
  std::map<Key, Claim> claims;
  int64_t claimed_for_version = -1;  // the version the claims were made for
  bool retry = false;
  if (!request_id.empty()) {
    CRM_ASSIGN_OR_RETURN(auto first, executor_->state().Request(request_id));
    retry = first.has_value();
  }
  if (!retry) {
    CRM_ASSIGN_OR_RETURN(auto current, executor_->state().Get<crm::v1::Customer>(target.aggregate));
    std::vector<Key> wanted;
    domain::customer::DecideContext dry;
    dry.now = executor_->clock().Now();
    dry.email_owner = [&](absl::string_view email) -> std::optional<std::string> {
      wanted.emplace_back(domain::customer::ReservedKey::kEmail, std::string(email));
      return customer_id;
    };
    dry.external_id_owner = [&](absl::string_view external_id) -> std::optional<std::string> {
      wanted.emplace_back(domain::customer::ReservedKey::kExternalId, std::string(external_id));
      return customer_id;
    };
    if (decide(current.state, dry).ok()) {
      claimed_for_version = current.version;
      for (const Key& key : wanted) {
        EmailReservations::Request request = ReservationRequest(key.first, key.second, customer_id);
        request.set_customer_version(current.version);
        // Waits on this thread: the claim is a command of its own (see the header).
        CRM_ASSIGN_OR_RETURN(EmailReservations::Response claimed,
                             reservations_->Claim(request, call).Get());
        std::string holder = claimed.holder();
        if (holder != customer_id) {
          // An address held by a merged customer belongs to its survivor.
          CRM_ASSIGN_OR_RETURN(auto held_by, FindCustomer(executor_, holder, call.deadline));
          auto survivor = domain::customer::ParseCustomerName(held_by.state.merged_into(), "");
          if (survivor.ok()) holder = *survivor;
        }
        claims[key] = {holder, absl::FromUnixMicros(claimed.lease_until_micros())};
      }
    }
  }

  // The executor reads `bounded.deadline` when it appends, after `decide` ran: a command that
  // uses claims must be recorded while they are usable (see email_reservation.h).
  rpc::CallContext bounded = call;
  absl::Status claim_error;
  crm::v1::Customer before;  // the reserved keys of the state the command decided on
  base::Future<command::CommandResult<crm::v1::Customer>> executed =
      executor_->Execute<crm::v1::Customer>(
          target, request_id, bounded, CustomerKind(),
          [&](const crm::v1::Customer& current, int64_t version,
              absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
            *before.mutable_emails() = current.emails();
            before.set_external_id(current.external_id());
            auto owner = [&](domain::customer::ReservedKey kind,
                             absl::string_view key) -> std::optional<std::string> {
              auto it = claims.find(Key(kind, std::string(key)));
              if (it == claims.end() || version != claimed_for_version) {
                // The state changed since the dry run so much that this key was not claimed.
                claim_error = status::Error(
                    absl::StatusCode::kAborted,
                    "the customer changed while this command claimed its e-mails and external "
                    "id; retry",
                    "CONCURRENT_CHANGE");
                return std::nullopt;
              }
              if (it->second.holder != customer_id) return it->second.holder;
              // The lease is on the command clock; the append deadline on the real one.
              bounded.deadline =
                  std::min(bounded.deadline, absl::Now() + (it->second.usable_until - now));
              return customer_id;
            };
            domain::customer::DecideContext context;
            context.now = now;
            context.email_owner = [&](absl::string_view email) {
              return owner(domain::customer::ReservedKey::kEmail, email);
            };
            context.external_id_owner = [&](absl::string_view external_id) {
              return owner(domain::customer::ReservedKey::kExternalId, external_id);
            };
            // The ledger is written with the customer's state: it is as current as `current`.
            context.find_purchase = [&](absl::string_view purchase_id) {
              return FindPurchase(executor_->state(), customer_id, purchase_id);
            };
            absl::StatusOr<domain::customer::Events> decided = decide(current, context);
            if (!claim_error.ok()) return claim_error;
            if (decided.ok() && !decided->empty() && absl::Now() >= bounded.deadline) {
              return status::Error(absl::StatusCode::kUnavailable,
                                   "the e-mail or external id claims of this command lapsed "
                                   "before it could be recorded; retry",
                                   "EMAIL_CLAIM_LAPSED");
            }
            return decided;
          });
  return std::move(executed).Then([this, retry, customer_id, call, before = std::move(before)](
                                      command::CommandResult<crm::v1::Customer> result) {
    if (result.appended_event_count > 0 && !retry) {
      // Release the keys this command removed (best effort: a release that does not happen
      // leaves a claim that lapses; see email_reservation.h).
      std::vector<Key> removed;
      const auto& now_emails = result.state.emails();
      for (const std::string& email : before.emails()) {
        if (std::find(now_emails.begin(), now_emails.end(), email) == now_emails.end()) {
          removed.emplace_back(domain::customer::ReservedKey::kEmail, email);
        }
      }
      if (!before.external_id().empty() && before.external_id() != result.state.external_id()) {
        removed.emplace_back(domain::customer::ReservedKey::kExternalId, before.external_id());
      }
      for (const Key& key : removed) {
        EmailReservations::Request release = ReservationRequest(key.first, key.second, customer_id);
        release.set_customer_version(result.state.version());
        (void)reservations_->Release(release, call);  // not waited for
      }
    }
    Response response = command::ResponseOf(std::move(result), &Response::mutable_customer);
    // The team and department the owner has now (services/access/owner_place.h).
    if (options_.staff != nullptr) {
      access::FollowOwner(*response.mutable_customer(), options_.staff->Org());
    }
    return response;
  });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::ExecuteOnName(
    const std::string& name, const std::string& request_id, const rpc::CallContext& call,
    const DecideFn& decide) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(name, "name"));
  return Execute(id, request_id, call, decide);
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Register(
    const crm::v1::RegisterCustomerRequest& request, const rpc::CallContext& call) {
  const std::string id = CustomerIdFor(request);
  // A staff member who does not reach every customer registers customers as their owner
  // (common/auth/grant.h): otherwise they could not reach what they registered.
  std::optional<crm::v1::AssignOwnerRequest> assign;
  if (const auth::Grant* grant = call.grant.get();
      grant != nullptr && !grant->staff_id().empty() && options_.staff != nullptr) {
    CRM_ASSIGN_OR_RETURN(crm::v1::Staff self,
                         options_.staff->Find(grant->staff_id(), "owner", call.deadline));
    if (!domain::org::MayOwnCustomers(self.role())) {
      return status::Error(absl::StatusCode::kPermissionDenied,
                           absl::StrCat("a ", crm::v1::StaffRole_Name(self.role()),
                                        " cannot own customers, so cannot register them"),
                           "ACCESS_DENIED", {{"resource", domain::customer::CustomerName(id)}});
    }
    const crm::v1::StaffRef ref = org::StaffDirectory::RefOf(self);
    assign.emplace();
    assign->set_name(domain::customer::CustomerName(id));
    assign->set_owner(ref.staff_id());
    assign->set_team(ref.team());
    assign->set_department(ref.department());
  }
  return Execute(
      id, request.request_id(), call,
      [&](const auto& state, const auto& context) -> absl::StatusOr<domain::customer::Events> {
        CRM_ASSIGN_OR_RETURN(domain::customer::Events events,
                             domain::customer::DecideRegister(state, request, id, context));
        if (!assign.has_value() || events.empty()) return events;
        // The registered customer, then its owner.
        domain::customer::State registered = state;
        int64_t version = state.version();
        for (command::Event event : events) {
          event.set_customer_id(id);
          event.set_aggregate_version(++version);
          *event.mutable_recorded_at() = base::ToTimestamp(context.now);
          CRM_RETURN_IF_ERROR(domain::customer::Apply(registered, event));
        }
        CRM_ASSIGN_OR_RETURN(domain::customer::Events owned,
                             domain::customer::DecideAssignOwner(registered, *assign, context));
        for (auto& e : owned) events.push_back(std::move(e));
        return events;
      });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Update(
    const crm::v1::UpdateCustomerRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(
                                           request.customer().name(), "customer.name"));
  return Execute(id, request.request_id(), call, [&](const auto& state, const auto& context) {
    return domain::customer::DecideUpdate(state, request, context);
  });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::ChangeLifecycleStage(
    const crm::v1::ChangeLifecycleStageRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(
      request.name(), request.request_id(), call, [&](const auto& state, const auto& context) {
        return domain::customer::DecideChangeLifecycleStage(state, request, context);
      });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::AssignOwner(
    const crm::v1::AssignOwnerRequest& request, const rpc::CallContext& call) {
  crm::v1::AssignOwnerRequest checked = request;
  if (options_.staff != nullptr &&
      domain::customer::ValidateStaffId(request.owner(), "owner").ok()) {
    // The owner must be on the staff, in a role that owns customers; their team and department
    // come from the org, not from the caller.
    CRM_ASSIGN_OR_RETURN(crm::v1::Staff owner,
                         options_.staff->Find(request.owner(), "owner", call.deadline));
    if (!domain::org::MayOwnCustomers(owner.role())) {
      return status::Error(
          absl::StatusCode::kFailedPrecondition,
          absl::StrCat("staff member ", request.owner(), " is a ",
                       crm::v1::StaffRole_Name(owner.role()),
                       "; customers are owned by account managers, customer representatives, "
                       "supervisors and managers"),
          "STAFF_ROLE_NOT_ALLOWED", {{"owner", request.owner()}});
    }
    const crm::v1::StaffRef ref = org::StaffDirectory::RefOf(owner);
    checked.set_team(ref.team());
    checked.set_department(ref.department());
  }
  return ExecuteOnName(checked.name(), checked.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideAssignOwner(state, checked, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::UnassignOwner(
    const crm::v1::UnassignOwnerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideUnassignOwner(state, request, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Archive(
    const crm::v1::ArchiveCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideArchive(state, request, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Unarchive(
    const crm::v1::UnarchiveCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideUnarchive(state, request, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Tag(
    const crm::v1::TagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideTag(state, request, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::Untag(
    const crm::v1::UntagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideUntag(state, request, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::RecordPurchase(
    const crm::v1::RecordPurchaseRequest& request, const rpc::CallContext& call) {
  // Every purchase gets an id, so it can be refunded: a UUID, derived from the request id if any
  // (the same on every replica a retry reaches).
  crm::v1::RecordPurchaseRequest with_id = request;
  if (with_id.has_purchase() && with_id.purchase().purchase_id().empty()) {
    with_id.mutable_purchase()->set_purchase_id(
        command::IdForCreate("", "crm.v1.RecordPurchase", request.request_id()));
  }
  return ExecuteOnName(with_id.name(), with_id.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideRecordPurchase(state, with_id, context);
                       });
}

base::Future<CustomerCommandHandler::Response> CustomerCommandHandler::RefundPurchase(
    const crm::v1::RefundPurchaseRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideRefundPurchase(state, request, context);
                       });
}

namespace {

// The customer's aggregates of one kind ("customers/{id}/complaints/") in the command state.
absl::StatusOr<int64_t> CountUnder(const command::CommandExecutor& executor,
                                   absl::string_view customer_id, absl::string_view kind) {
  return executor.state().Count(
      absl::StrCat(domain::customer::CustomerName(customer_id), "/", kind, "/"));
}

const crm::v1::MergedCustomer* MergeOf(const crm::v1::Customer& survivor,
                                       absl::string_view merged_name) {
  for (const auto& m : survivor.merged_customers()) {
    if (m.name() == merged_name) return &m;
  }
  return nullptr;
}

}  // namespace

base::Future<crm::v1::MergeCustomersResponse> CustomerCommandHandler::Merge(
    const crm::v1::MergeCustomersRequest& request, const rpc::CallContext& call) {
  auto survivor_id = domain::customer::ParseCustomerName(request.survivor(), "survivor");
  auto merged_id = domain::customer::ParseCustomerName(request.merged(), "merged");
  if (!survivor_id.ok() || !merged_id.ok() || *survivor_id == *merged_id) {
    // The domain names every bad field.
    domain::customer::DecideContext context;
    context.now = executor_->clock().Now();
    return domain::customer::DecideMerge(domain::customer::State(), domain::customer::State(),
                                         request, {}, context)
        .status();
  }
  for (const std::string* id : {&*survivor_id, &*merged_id}) {
    if (options_.writes_here && !options_.writes_here(*id)) {
      return status::Error(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("customers/", *id,
                                        " is written by another crm-command replica; a merge "
                                        "needs both customers written by one (docs/kafka.md)"),
                           "MERGE_ACROSS_REPLICAS",
                           {{"customer", absl::StrCat("customers/", *id)}});
    }
  }
  const std::string survivor_name = domain::customer::CustomerName(*survivor_id);
  const std::string merged_name = domain::customer::CustomerName(*merged_id);
  const std::vector<command::Target> targets = {
      {.stream_key = *merged_id, .customer_id = *merged_id, .aggregate = merged_name},
      {.stream_key = *survivor_id, .customer_id = *survivor_id, .aggregate = survivor_name}};
  crm::v1::MergeSummary summary;
  CRM_ASSIGN_OR_RETURN(
      command::CommandExecutor::LinkedResult result,
      executor_->ExecuteLinked(
          targets, request.request_id(), call, CustomerKind(), request.validate_only(),
          [&](const std::vector<std::string>& states, const std::vector<int64_t>&, bool retry,
              absl::Time now) -> absl::StatusOr<std::vector<std::vector<command::Event>>> {
            domain::customer::State merged, survivor;
            if (!merged.ParseFromString(states[0]) || !survivor.ParseFromString(states[1])) {
              return absl::InternalError("customer state cannot be decoded");
            }
            domain::customer::DecideContext context;
            context.now = now;
            crm::v1::MergeCustomersRequest checked = request;
            bool completing = false;
            if (merged.merged_into() == survivor_name) {
              if (const auto* done = MergeOf(survivor, merged_name); done != nullptr) {
                // Done already: a retry answers it; anything else is refused below.
                if (retry) {
                  summary = done->summary();
                  return std::vector<std::vector<command::Event>>(2);
                }
              } else {
                // Interrupted between its two events: complete it, on the merged customer as
                // it was before its CustomerMergedInto (its last event).
                completing = true;
                merged.clear_merged_into();
                merged.set_version(merged.version() - 1);
                checked.clear_survivor_etag();
                checked.clear_merged_etag();
              }
            }
            domain::customer::MergeCounts counts;
            CRM_ASSIGN_OR_RETURN(counts.interactions,
                                 CountUnder(*executor_, *merged_id, "interactions"));
            CRM_ASSIGN_OR_RETURN(counts.complaints,
                                 CountUnder(*executor_, *merged_id, "complaints"));
            CRM_ASSIGN_OR_RETURN(counts.purchases, ListPurchases(executor_->state(), *merged_id));
            CRM_ASSIGN_OR_RETURN(
                domain::customer::MergeDecision decision,
                domain::customer::DecideMerge(survivor, merged, checked, counts, context));
            summary = decision.summary;
            std::vector<std::vector<command::Event>> events(2);
            if (!completing) events[0].push_back(std::move(decision.merged_event));
            events[1].push_back(std::move(decision.survivor_event));
            return events;
          }));
  crm::v1::MergeCustomersResponse response;
  crm::v1::Customer survivor;
  survivor.ParseFromString(result.states[1]);
  if (!request.validate_only()) {
    // The merged customer's e-mails, and its external id if the survivor took it, move to the
    // survivor (EmailClaimed / ExternalIdClaimed, previous holder the merged customer). Best
    // effort: until then, or if it fails, a key held by a merged customer reads as its
    // survivor's (Execute above; domain/customer/email_reservation.h).
    std::vector<std::pair<domain::customer::ReservedKey, std::string>> moved;
    for (const std::string& email : summary.emails()) {
      moved.emplace_back(domain::customer::ReservedKey::kEmail, email);
    }
    if (std::find(summary.filled_fields().begin(), summary.filled_fields().end(), "external_id") !=
        summary.filled_fields().end()) {
      moved.emplace_back(domain::customer::ReservedKey::kExternalId, survivor.external_id());
    }
    for (const auto& [kind, key] : moved) {
      EmailReservations::Request claim = ReservationRequest(kind, key, *survivor_id);
      claim.set_customer_version(survivor.version());
      (void)reservations_->Claim(claim, call).Get();
    }
  }
  if (options_.staff != nullptr) access::FollowOwner(survivor, options_.staff->Org());
  *response.mutable_customer() = std::move(survivor);
  *response.mutable_summary() = std::move(summary);
  response.set_consistency_token(result.consistency_token);
  response.set_appended_event_count(result.retry ? 2 : result.appended_event_count);
  response.set_validate_only(request.validate_only());
  return response;
}

}  // namespace crm::services::customer
