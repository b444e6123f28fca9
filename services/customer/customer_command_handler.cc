#include "services/customer/customer_command_handler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "common/rpc/service_table.h"
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

constexpr char kSealMethod[] = "/crm.internal.v1.CustomerMergeService/SealMergedCustomer";

// The customer's aggregates of one kind ("customers/{id}/complaints/") in the command state.
absl::StatusOr<int64_t> CountUnder(const command::CommandExecutor& executor,
                                   absl::string_view customer_id, absl::string_view kind) {
  return executor.state().Count(
      absl::StrCat(domain::customer::CustomerName(customer_id), "/", kind, "/"));
}

// What moves with the merged customer `merged_id`, as this replica's command state has it (the
// one that writes it).
absl::StatusOr<domain::customer::MergeCounts> CountsHere(const command::CommandExecutor& executor,
                                                         absl::string_view merged_id) {
  domain::customer::MergeCounts counts;
  CRM_ASSIGN_OR_RETURN(counts.interactions, CountUnder(executor, merged_id, "interactions"));
  CRM_ASSIGN_OR_RETURN(counts.complaints, CountUnder(executor, merged_id, "complaints"));
  CRM_ASSIGN_OR_RETURN(counts.purchases, ListPurchases(executor.state(), merged_id));
  return counts;
}

// What moves with the merged customer, as its writer answered it (SealMerged).
absl::StatusOr<domain::customer::MergeCounts> CountsOf(
    const crm::internal::v1::SealMergedCustomerResponse& sealed) {
  domain::customer::MergeCounts counts;
  counts.interactions = sealed.interactions();
  counts.complaints = sealed.complaints();
  for (const auto& entry : sealed.purchases()) {
    CRM_ASSIGN_OR_RETURN(domain::customer::RecordedPurchase p, FromLedgerEntry(entry));
    counts.purchases.push_back(std::move(p));
  }
  return counts;
}

const crm::v1::MergedCustomer* MergeOf(const crm::v1::Customer& survivor,
                                       absl::string_view merged_name) {
  for (const auto& m : survivor.merged_customers()) {
    if (m.name() == merged_name) return &m;
  }
  return nullptr;
}

// The two customers of a merge request.
struct MergePair {
  std::string survivor_id, merged_id, survivor_name, merged_name;
};

// The pair named by `request`; malformed names, or a customer merged into itself, are refused as
// the domain names them.
absl::StatusOr<MergePair> PairOf(const crm::v1::MergeCustomersRequest& request, absl::Time now) {
  auto survivor_id = domain::customer::ParseCustomerName(request.survivor(), "survivor");
  auto merged_id = domain::customer::ParseCustomerName(request.merged(), "merged");
  if (!survivor_id.ok() || !merged_id.ok() || *survivor_id == *merged_id) {
    domain::customer::DecideContext context;
    context.now = now;
    return domain::customer::DecideMerge(domain::customer::State(), domain::customer::State(),
                                         request, {}, context)
        .status();
  }
  return MergePair{*survivor_id, *merged_id, domain::customer::CustomerName(*survivor_id),
                   domain::customer::CustomerName(*merged_id)};
}

// The two states of a merge's linked command (targets: the merged customer, the survivor).
absl::Status ParseMergeStates(const std::vector<std::string>& states,
                              domain::customer::State* merged, domain::customer::State* survivor) {
  if (states.size() != 2 || !merged->ParseFromString(states[0]) ||
      !survivor->ParseFromString(states[1])) {
    return absl::InternalError("customer state cannot be decoded");
  }
  return absl::OkStatus();
}

struct MergeStep {
  std::vector<std::vector<command::Event>> events;  // the merged customer's, the survivor's
  crm::v1::MergeSummary summary;
};

// The merge decided on the two customers as the command state has them, wherever it runs (both
// customers here; or one half on each of two replicas, each deciding the whole). A merge done
// already answers its summary on a retry (no events) and is refused otherwise (DecideMerge:
// ALREADY_MERGED). One interrupted between its two events (the merged customer sealed into the
// survivor, the survivor not yet told) is completed: decided again on the merged customer as it
// was before its CustomerMergedInto (its last event: a merged customer takes no command), which
// gives only the survivor's event.
absl::StatusOr<MergeStep> DecideMergeStep(
    const crm::v1::MergeCustomersRequest& request, const MergePair& pair,
    domain::customer::State merged, const domain::customer::State& survivor, bool retry,
    absl::Time now,
    const std::function<absl::StatusOr<domain::customer::MergeCounts>()>& counts_of) {
  MergeStep step;
  step.events.resize(2);
  domain::customer::DecideContext context;
  context.now = now;
  crm::v1::MergeCustomersRequest checked = request;
  bool completing = false;
  if (merged.merged_into() == pair.survivor_name) {
    if (const auto* done = MergeOf(survivor, pair.merged_name); done != nullptr) {
      // Done already: a retry answers it; anything else is refused below.
      if (retry) {
        step.summary = done->summary();
        return step;
      }
    } else {
      completing = true;
      merged.clear_merged_into();
      merged.set_version(merged.version() - 1);
      checked.clear_survivor_etag();
      checked.clear_merged_etag();
    }
  }
  CRM_ASSIGN_OR_RETURN(domain::customer::MergeCounts counts, counts_of());
  CRM_ASSIGN_OR_RETURN(domain::customer::MergeDecision decision,
                       domain::customer::DecideMerge(survivor, merged, checked, counts, context));
  step.summary = std::move(decision.summary);
  if (!completing) step.events[0].push_back(std::move(decision.merged_event));
  step.events[1].push_back(std::move(decision.survivor_event));
  return step;
}

}  // namespace

bool CustomerCommandHandler::WritesHere(absl::string_view customer_id) const {
  return options_.router == nullptr || !options_.router->OwnerOf(customer_id).has_value();
}

base::Future<crm::v1::MergeCustomersResponse> CustomerCommandHandler::Merge(
    const crm::v1::MergeCustomersRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const MergePair pair, PairOf(request, executor_->clock().Now()));
  if (!WritesHere(pair.survivor_id)) {
    // Routed to the survivor's writer (CustomerCommandService); here only if replicas disagree.
    return status::Error(
        absl::StatusCode::kUnavailable,
        absl::StrCat(pair.survivor_name, " is written by another crm-command replica; retry"),
        "NOT_THE_WRITER", {{"customer", pair.survivor_name}});
  }
  // Both customers are targets; when another replica writes the merged customer, it is read
  // here (to the end of its stream) but not locked or appended: with the survivor locked here,
  // its writer records the merged customer's half (SealMerged), then the survivor's half is
  // appended here, decided on the merged customer that replica answered.
  const bool merged_elsewhere = !WritesHere(pair.merged_id);
  const std::vector<command::Target> targets = {{.stream_key = pair.merged_id,
                                                 .customer_id = pair.merged_id,
                                                 .aggregate = pair.merged_name,
                                                 .written_elsewhere = merged_elsewhere},
                                                {.stream_key = pair.survivor_id,
                                                 .customer_id = pair.survivor_id,
                                                 .aggregate = pair.survivor_name}};
  crm::v1::MergeSummary summary;
  // The merged customer's writer's answer, when another replica writes it: the events it
  // appended, and whether it had seen the request id.
  int32_t sealed_elsewhere = 0;
  bool retry_elsewhere = false;
  const std::string causation_id = base::NewUuid();  // one for both halves
  absl::StatusOr<command::CommandExecutor::LinkedResult> result = executor_->ExecuteLinked(
      targets, request.request_id(), call, CustomerKind(), request.validate_only(),
      [&](const std::vector<std::string>& states, const std::vector<int64_t>&, bool retry,
          absl::Time now) -> absl::StatusOr<std::vector<std::vector<command::Event>>> {
        domain::customer::State merged, survivor;
        CRM_RETURN_IF_ERROR(ParseMergeStates(states, &merged, &survivor));
        if (!merged_elsewhere) {
          CRM_ASSIGN_OR_RETURN(
              MergeStep step,
              DecideMergeStep(request, pair, std::move(merged), survivor, retry, now,
                              [&] { return CountsHere(*executor_, pair.merged_id); }));
          summary = std::move(step.summary);
          return std::move(step.events);
        }
        if (const auto* done = MergeOf(survivor, pair.merged_name); retry && done != nullptr) {
          summary = done->summary();
          return std::vector<std::vector<command::Event>>(2);
        }
        crm::internal::v1::SealMergedCustomerRequest seal;
        *seal.mutable_merge() = request;
        seal.set_causation_id(causation_id);
        crm::internal::v1::SealMergedCustomerResponse sealed;
        // Bounded even for callers without a deadline: replicas' workers must not wait on each
        // other for ever (two merges of one pair in opposite directions, each on its survivor's
        // replica, wait on each other until then).
        const absl::Time deadline = std::min(call.deadline, absl::Now() + absl::Seconds(10));
        CRM_RETURN_IF_ERROR(options_.router->Call(*options_.router->OwnerOf(pair.merged_id),
                                                  kSealMethod, seal, &sealed, deadline, call));
        sealed_elsewhere = sealed.appended_event_count();
        retry_elsewhere = sealed.retry();
        CRM_ASSIGN_OR_RETURN(
            MergeStep step, DecideMergeStep(request, pair, sealed.merged(), survivor, retry, now,
                                            [&]() -> absl::StatusOr<domain::customer::MergeCounts> {
                                              return CountsOf(sealed);
                                            }));
        if (!step.events[0].empty() && !request.validate_only()) {
          return absl::InternalError("the merged customer's half of the merge is not recorded");
        }
        summary = std::move(step.summary);
        return std::move(step.events);
      },
      causation_id);
  if (!result.ok()) return result.status();
  crm::v1::MergeCustomersResponse response;
  crm::v1::Customer survivor;
  survivor.ParseFromString(result->states.back());
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
      EmailReservations::Request claim = ReservationRequest(kind, key, pair.survivor_id);
      claim.set_customer_version(survivor.version());
      (void)reservations_->Claim(claim, call).Get();
    }
  }
  if (options_.staff != nullptr) access::FollowOwner(survivor, options_.staff->Org());
  *response.mutable_customer() = std::move(survivor);
  *response.mutable_summary() = std::move(summary);
  response.set_consistency_token(result->consistency_token);
  response.set_appended_event_count(
      result->retry || retry_elsewhere ? 2 : result->appended_event_count + sealed_elsewhere);
  response.set_validate_only(request.validate_only());
  return response;
}

base::Future<crm::internal::v1::SealMergedCustomerResponse> CustomerCommandHandler::SealMerged(
    const crm::internal::v1::SealMergedCustomerRequest& seal, const rpc::CallContext& call) {
  const crm::v1::MergeCustomersRequest& request = seal.merge();
  CRM_ASSIGN_OR_RETURN(const MergePair pair, PairOf(request, executor_->clock().Now()));
  if (WritesHere(pair.survivor_id)) {
    // Not a half: one replica writing both runs the whole merge.
    return status::PreconditionFailed(
        "SURVIVOR_WRITTEN_HERE",
        absl::StrCat("this crm-command replica writes ", pair.survivor_name,
                     " too: send crm.v1.CustomerCommandService.MergeCustomers"),
        pair.survivor_name, {{"customer", pair.survivor_name}});
  }
  if (!WritesHere(pair.merged_id)) {
    // Routed to the merged customer's writer (CustomerMergeService); here only if replicas
    // disagree on the layout.
    return status::Error(
        absl::StatusCode::kUnavailable,
        absl::StrCat(pair.merged_name, " is written by another crm-command replica; retry"),
        "NOT_THE_WRITER", {{"customer", pair.merged_name}});
  }
  const std::vector<command::Target> targets = {
      {.stream_key = pair.merged_id, .customer_id = pair.merged_id, .aggregate = pair.merged_name},
      {.stream_key = pair.survivor_id,
       .customer_id = pair.survivor_id,
       .aggregate = pair.survivor_name,
       .written_elsewhere = true}};
  // Stamped as the survivor's writer stamps its half: the request record of the id (which both
  // replicas fold from both events) then has one digest, that of the caller's request.
  rpc::CallContext step_call = call;
  step_call.request_digest = rpc::RequestDigest(request);
  std::optional<domain::customer::MergeCounts> counts;  // as the decision counted them
  CRM_ASSIGN_OR_RETURN(
      command::CommandExecutor::LinkedResult result,
      executor_->ExecuteLinked(
          targets, request.request_id(), step_call, CustomerKind(), request.validate_only(),
          [&](const std::vector<std::string>& states, const std::vector<int64_t>&, bool retry,
              absl::Time now) -> absl::StatusOr<std::vector<std::vector<command::Event>>> {
            domain::customer::State merged, survivor;
            CRM_RETURN_IF_ERROR(ParseMergeStates(states, &merged, &survivor));
            CRM_ASSIGN_OR_RETURN(
                MergeStep step,
                DecideMergeStep(request, pair, std::move(merged), survivor, retry, now, [&] {
                  auto here = CountsHere(*executor_, pair.merged_id);
                  if (here.ok()) counts = *here;
                  return here;
                }));

            return std::move(step.events);
          },
          seal.causation_id()));
  crm::internal::v1::SealMergedCustomerResponse response;
  if (!response.mutable_merged()->ParseFromString(result.states[0])) {
    return absl::InternalError("customer state cannot be decoded");
  }
  if (!counts.has_value()) {
    // Not counted by the decision (a retry of a merge done already): counted now.
    CRM_ASSIGN_OR_RETURN(counts, CountsHere(*executor_, pair.merged_id));
  }
  response.set_interactions(counts->interactions);
  response.set_complaints(counts->complaints);
  for (const auto& p : counts->purchases) *response.add_purchases() = ToLedgerEntry(p);
  response.set_appended_event_count(result.appended_event_count);
  response.set_retry(result.retry);
  return response;
}

}  // namespace crm::services::customer
