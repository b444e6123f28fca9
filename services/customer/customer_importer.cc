#include "services/customer/customer_importer.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/service_table.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/customer_import.h"
#include "domain/customer/validation.h"
#include "services/customer/customer_kind.h"

namespace crm::services::customer {
namespace {

using crm::v1::ImportOutcome;
using domain::customer::ReservedKey;

constexpr char kService[] = "/crm.v1.CustomerCommandService/";

// The latest position per partition of two consistency tokens.
std::string MergeTokens(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  auto pa = eventlog::DecodeConsistencyToken(a);
  auto pb = eventlog::DecodeConsistencyToken(b);
  if (!pa.ok() || !pb.ok()) return pa.ok() ? a : b;
  for (const auto& [partition, offset] : *pb) {
    auto [it, inserted] = pa->emplace(partition, offset);
    if (!inserted) it->second = std::max(it->second, offset);
  }
  return eventlog::EncodeConsistencyToken(*pa);
}

absl::Status DuplicateInImport(absl::string_view what, absl::string_view value, int64_t first_row,
                               absl::string_view field) {
  absl::Status status = status::Error(
      absl::StatusCode::kAlreadyExists,
      absl::StrCat(what, " ", value, " is in row ", first_row, " of this import already"),
      "DUPLICATE_IN_IMPORT",
      {{"first_row", absl::StrCat(first_row)}, {"field", std::string(field)}});
  return status;
}

}  // namespace

struct CustomerImporter::Row {
  domain::customer::ImportRowPlan plan;
  std::string import_request_id;
  crm::v1::ImportCustomerResult* result;
  std::string token;  // of the row's last command
};

CustomerImporter::CustomerImporter(command::CommandExecutor* executor,
                                   CustomerCommandHandler* handler, command::CommandRouter* router)
    : executor_(executor), handler_(handler), router_(router) {}

template <typename Req>
absl::StatusOr<crm::v1::CustomerCommandResponse> CustomerImporter::Run(
    const char* method, const std::string& customer_id, const Req& request,
    base::Future<crm::v1::CustomerCommandResponse> (CustomerCommandHandler::*local)(
        const Req&, const rpc::CallContext&),
    const rpc::CallContext& call) {
  rpc::CallContext step = call;
  step.request_digest = rpc::RequestDigest(request);  // as the public method's table stamps it
  std::optional<std::string> owner;
  if (router_ != nullptr) owner = router_->OwnerOf(customer_id);
  if (!owner.has_value()) return (handler_->*local)(request, step).Get();
  crm::v1::CustomerCommandResponse response;
  CRM_RETURN_IF_ERROR(router_->Call(*owner, absl::StrCat(kService, method), request, &response,
                                    call.deadline, call));
  return response;
}

absl::StatusOr<std::optional<std::string>> CustomerImporter::Holder(ReservedKey kind,
                                                                    const std::string& key,
                                                                    const rpc::CallContext& call) {
  const std::string name = domain::customer::ReservationName(kind, key);
  CRM_RETURN_IF_ERROR(executor_->SyncStream(name, call.deadline));
  CRM_ASSIGN_OR_RETURN(auto reservation,
                       executor_->state().Get<crm::internal::v1::EmailReservation>(name));
  const std::string& holder = reservation.state.holder();
  if (holder.empty()) return std::nullopt;
  // A claim whose holder never got the key (its command failed) is no match.
  CRM_ASSIGN_OR_RETURN(auto customer, FindCustomer(executor_, holder, call.deadline));
  const crm::v1::Customer& c = customer.state;
  const bool has = kind == ReservedKey::kExternalId
                       ? c.external_id() == key
                       : std::find(c.emails().begin(), c.emails().end(), key) != c.emails().end();
  if (!has) return std::nullopt;
  return holder;
}

absl::Status CustomerImporter::RunRow(Row& row, const rpc::CallContext& call) {
  const domain::customer::ImportRowPlan& plan = row.plan;
  auto step_id = [&](absl::string_view step) {
    return domain::customer::ImportStepRequestId(row.import_request_id, plan.row_number, step);
  };
  int32_t appended = 0;
  auto count = [&](const crm::v1::CustomerCommandResponse& response) {
    appended += response.appended_event_count();
    row.token = MergeTokens(row.token, response.consistency_token());
    row.result->set_appended_event_count(appended);
  };

  // A step whose request id is recorded for the customer ran in an earlier call of this import
  // (a retry): it runs again whatever the customer looks like now, so it answers its first
  // answer, and the row answers as it did then.
  auto recorded = [&](absl::string_view step, const std::string& id) -> absl::StatusOr<bool> {
    const std::string request_id = step_id(step);
    if (request_id.empty()) return false;
    CRM_ASSIGN_OR_RETURN(auto first, executor_->state().Request(request_id));
    return first.has_value() && first->aggregate() == domain::customer::CustomerName(id);
  };

  // A row registered by an earlier call of this import registers again (its first answer);
  // else the match: by external id, else by the first e-mail someone holds.
  crm::v1::RegisterCustomerRequest register_request =
      domain::customer::RegisterRequestOf(plan, step_id("register"));
  register_request.set_customer_id(
      CustomerIdFor(register_request));  // as the public method's route fixes it
  CRM_ASSIGN_OR_RETURN(bool registered, recorded("register", register_request.customer_id()));
  std::optional<std::string> match;
  if (!registered && !plan.profile.external_id().empty()) {
    CRM_ASSIGN_OR_RETURN(match, Holder(ReservedKey::kExternalId, plan.profile.external_id(), call));
  }
  for (int i = 0; !registered && !match.has_value() && i < plan.profile.emails_size(); ++i) {
    CRM_ASSIGN_OR_RETURN(match, Holder(ReservedKey::kEmail, plan.profile.emails(i), call));
  }

  crm::v1::Customer customer;
  std::string id;
  if (!match.has_value()) {
    id = register_request.customer_id();
    row.result->set_customer(domain::customer::CustomerName(id));
    CRM_ASSIGN_OR_RETURN(auto response, Run("RegisterCustomer", id, register_request,
                                            &CustomerCommandHandler::Register, call));
    count(response);
    customer = response.customer();
    row.result->set_outcome(crm::v1::CREATED);
  } else {
    id = *match;
    const std::string name = domain::customer::CustomerName(id);
    row.result->set_customer(name);
    row.result->set_outcome(crm::v1::UNCHANGED);
    CRM_ASSIGN_OR_RETURN(
        auto response,
        Run("UpdateCustomer", id, domain::customer::UpdateRequestOf(plan, name, step_id("update")),
            &CustomerCommandHandler::Update, call));
    count(response);
    customer = response.customer();
    const crm::v1::LifecycleStage stage = plan.profile.lifecycle_stage();
    CRM_ASSIGN_OR_RETURN(bool stage_ran, recorded("stage", id));
    if (stage_ran ||
        (stage != crm::v1::LIFECYCLE_STAGE_UNSPECIFIED && stage != customer.lifecycle_stage())) {
      crm::v1::ChangeLifecycleStageRequest change;
      change.set_name(name);
      change.set_lifecycle_stage(stage);
      change.set_reason("bulk import");
      change.set_request_id(step_id("stage"));
      CRM_ASSIGN_OR_RETURN(response, Run("ChangeLifecycleStage", id, change,
                                         &CustomerCommandHandler::ChangeLifecycleStage, call));
      count(response);
      customer = response.customer();
    }
  }
  const std::string name = domain::customer::CustomerName(id);
  CRM_ASSIGN_OR_RETURN(bool owner_ran, recorded("owner", id));
  if (owner_ran || (!plan.owner.empty() && plan.owner != customer.owner())) {
    crm::v1::AssignOwnerRequest assign;
    assign.set_name(name);
    assign.set_owner(plan.owner);
    assign.set_request_id(step_id("owner"));
    CRM_ASSIGN_OR_RETURN(
        auto response, Run("AssignOwner", id, assign, &CustomerCommandHandler::AssignOwner, call));
    count(response);
    customer = response.customer();
  }
  for (const std::string& tag : plan.tags) {
    CRM_ASSIGN_OR_RETURN(bool tag_ran, recorded(absl::StrCat("tag/", tag), id));
    if (!tag_ran &&
        std::find(customer.tags().begin(), customer.tags().end(), tag) != customer.tags().end()) {
      continue;
    }
    crm::v1::TagCustomerRequest request;
    request.set_name(name);
    request.set_tag(tag);
    request.set_request_id(step_id(absl::StrCat("tag/", tag)));
    CRM_ASSIGN_OR_RETURN(auto response,
                         Run("TagCustomer", id, request, &CustomerCommandHandler::Tag, call));
    count(response);
    customer = response.customer();
  }
  if (row.result->outcome() == crm::v1::UNCHANGED && appended > 0) {
    row.result->set_outcome(crm::v1::UPDATED);
  }
  return absl::OkStatus();
}

absl::StatusOr<crm::v1::ImportCustomersResponse> CustomerImporter::Import(
    const crm::v1::ImportCustomersRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::customer::ValidateRequestId(request.request_id(), "request_id"));
  if (static_cast<size_t>(request.rows_size()) > domain::customer::kMaxImportRows) {
    return status::Error(absl::StatusCode::kResourceExhausted,
                         absl::StrCat("at most ", domain::customer::kMaxImportRows,
                                      " rows per import; split the file"),
                         "TOO_MANY_ROWS",
                         {{"limit", absl::StrCat(domain::customer::kMaxImportRows)}});
  }
  crm::v1::ImportCustomersResponse response;
  std::set<int64_t> row_numbers;
  std::map<std::string, int64_t> emails;        // normalized e-mail -> first row
  std::map<std::string, int64_t> external_ids;  // -> first row
  std::string token;
  for (int i = 0; i < request.rows_size(); ++i) {
    if (call.cancelled()) {
      return status::Error(absl::StatusCode::kCancelled,
                           absl::StrCat("the import was cancelled before row ", i + 1),
                           "CANCELLED");
    }
    if (absl::Now() >= call.deadline) {
      return status::Error(absl::StatusCode::kDeadlineExceeded,
                           absl::StrCat("the deadline passed before row ", i + 1,
                                        "; the rows before it are recorded: retry the import with "
                                        "the same request_id"),
                           "DEADLINE_EXCEEDED");
    }
    crm::v1::ImportCustomerResult* result = response.add_results();
    Row row{.import_request_id = request.request_id(), .result = result};
    absl::Status status = [&]() -> absl::Status {
      CRM_ASSIGN_OR_RETURN(row.plan, domain::customer::PlanImportRow(request.rows(i), i + 1,
                                                                     executor_->clock().Now()));
      const domain::customer::ImportRowPlan& plan = row.plan;
      result->set_row_number(plan.row_number);
      if (!row_numbers.insert(plan.row_number).second) {
        return status::InvalidArgument(
            "row_number", absl::StrCat("row ", plan.row_number, " appears twice in the import"));
      }
      if (!plan.profile.external_id().empty()) {
        auto [it, fresh] = external_ids.emplace(plan.profile.external_id(), plan.row_number);
        if (!fresh) {
          return DuplicateInImport("external id", plan.profile.external_id(), it->second,
                                   "customer.external_id");
        }
      }
      for (int e = 0; e < plan.profile.emails_size(); ++e) {
        auto [it, fresh] = emails.emplace(plan.profile.emails(e), plan.row_number);
        if (!fresh) {
          return DuplicateInImport("e-mail", plan.profile.emails(e), it->second,
                                   absl::StrCat("customer.emails[", e, "]"));
        }
      }
      return RunRow(row, call);
    }();
    if (result->row_number() == 0) {
      result->set_row_number(request.rows(i).row_number() > 0 ? request.rows(i).row_number()
                                                              : i + 1);
    }
    token = MergeTokens(token, row.token);
    if (!status.ok()) {
      result->set_outcome(crm::v1::FAILED);
      *result->mutable_error() = rpc::ToRpcStatus(status);
      // The customer the row matched is not named to a caller who does not reach it.
      if (status.code() == absl::StatusCode::kPermissionDenied) result->clear_customer();
    }
    switch (result->outcome()) {
      case crm::v1::CREATED:
        response.set_created_count(response.created_count() + 1);
        break;
      case crm::v1::UPDATED:
        response.set_updated_count(response.updated_count() + 1);
        break;
      case crm::v1::UNCHANGED:
        response.set_unchanged_count(response.unchanged_count() + 1);
        break;
      default:
        response.set_failed_count(response.failed_count() + 1);
        break;
    }
  }
  response.set_consistency_token(token);
  return response;
}

}  // namespace crm::services::customer
