#include "services/interaction/interaction_query_service.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/validation.h"
#include "domain/interaction/interaction_aggregate.h"
#include "google/protobuf/util/time_util.h"
#include "services/customer/page_token.h"

namespace crm::services::interaction {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using services::customer::DecodePageToken;
using services::customer::EncodePageToken;

constexpr int32_t kMaxPageSize = 1000;

absl::StatusOr<size_t> PageSize(int32_t requested, int32_t default_size) {
  if (requested < 0) return status::InvalidArgument("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min(requested, kMaxPageSize);
}

absl::StatusOr<std::string> Cursor(const std::string& token, absl::string_view kind,
                                   absl::string_view fingerprint) {
  if (token.empty()) return std::string();
  return DecodePageToken(token, kind, fingerprint);
}

std::string Token(const std::string& cursor, absl::string_view kind,
                  absl::string_view fingerprint) {
  return cursor.empty() ? "" : EncodePageToken(kind, fingerprint, cursor);
}

Timestamp ToProto(absl::Time t) { return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t)); }

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

bool IsValidTimestamp(const Timestamp& ts) {
  return ts.seconds() >= TimeUtil::kTimestampMinSeconds &&
         ts.seconds() <= TimeUtil::kTimestampMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999'999'999;
}

}  // namespace

absl::Status InteractionQueries::AwaitToken(const std::string& token,
                                            const rpc::CallContext& call) const {
  if (token.empty()) return absl::OkStatus();
  CRM_ASSIGN_OR_RETURN(eventlog::PositionMap positions, eventlog::DecodeConsistencyToken(token));
  const absl::Time deadline = std::min(call.deadline, absl::Now() + options_.max_consistency_wait);
  absl::Status reached = views_runner_->WaitFor(positions, deadline);
  if (absl::IsDeadlineExceeded(reached)) {
    return status::Error(absl::StatusCode::kDeadlineExceeded,
                         "the views have not yet applied the write named by consistency_token",
                         "CONSISTENCY_WAIT_EXCEEDED");
  }
  return reached;
}

absl::Status InteractionQueries::CheckCustomer(absl::string_view id,
                                               absl::string_view parent) const {
  CRM_ASSIGN_OR_RETURN(auto customer, customers_.Get(id));
  if (customer.has_value()) return absl::OkStatus();
  return status::Error(absl::StatusCode::kNotFound, absl::StrCat(parent, " does not exist"),
                       "CUSTOMER_NOT_FOUND", {{"name", std::string(parent)}});
}

absl::StatusOr<crm::v1::Interaction> InteractionQueries::Get(
    const crm::v1::GetInteractionRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(auto name,
                       domain::interaction::ParseInteractionName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto interaction, interactions_.Get(request.name()));
  if (!interaction.has_value()) {
    return status::Error(absl::StatusCode::kNotFound,
                         absl::StrCat(request.name(), " does not exist"), "INTERACTION_NOT_FOUND",
                         {{"name", request.name()}});
  }
  return *interaction;
}

absl::StatusOr<crm::v1::ListInteractionsResponse> InteractionQueries::List(
    const crm::v1::ListInteractionsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, PageSize(request.page_size(), 50));
  if (!crm::v1::Channel_IsValid(request.channel())) {
    return status::InvalidArgument("channel", "is not a known channel");
  }
  const std::string fingerprint = absl::StrCat(id, "|", request.channel());
  CRM_ASSIGN_OR_RETURN(std::string cursor,
                       Cursor(request.page_token(), "interactions", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(CheckCustomer(id, request.parent()));
  CRM_ASSIGN_OR_RETURN(auto page,
                       interactions_.ListForCustomer(id, request.channel(), cursor, page_size));
  crm::v1::ListInteractionsResponse response;
  for (auto& i : page.interactions) *response.add_interactions() = std::move(i);
  response.set_next_page_token(Token(page.next_cursor, "interactions", fingerprint));
  return response;
}

absl::StatusOr<crm::v1::GetCustomerTimelineResponse> InteractionQueries::Timeline(
    const crm::v1::GetCustomerTimelineRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, PageSize(request.page_size(), 100));
  std::set<crm::v1::TimelineEntryKind> kinds;
  for (int i = 0; i < request.kinds_size(); ++i) {
    const auto kind = request.kinds(i);
    if (kind == crm::v1::TIMELINE_ENTRY_KIND_UNSPECIFIED ||
        !crm::v1::TimelineEntryKind_IsValid(kind)) {
      return status::InvalidArgument(absl::StrCat("kinds[", i, "]"),
                                     "is not a known timeline entry kind");
    }
    kinds.insert(kind);
  }
  const std::string fingerprint = absl::StrCat(id, "|", absl::StrJoin(kinds, ","));
  CRM_ASSIGN_OR_RETURN(std::string cursor, Cursor(request.page_token(), "timeline", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(CheckCustomer(id, request.parent()));
  CRM_ASSIGN_OR_RETURN(auto page, interactions_.Timeline(id, kinds, cursor, page_size));
  crm::v1::GetCustomerTimelineResponse response;
  for (auto& e : page.entries) *response.add_entries() = std::move(e);
  response.set_next_page_token(Token(page.next_cursor, "timeline", fingerprint));
  return response;
}

absl::StatusOr<crm::v1::ListFollowUpsResponse> InteractionQueries::FollowUps(
    const crm::v1::ListFollowUpsRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(domain::customer::ValidateStaffId(request.staff_id(), "staff_id"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, PageSize(request.page_size(), 50));
  if (request.has_due_before() && !IsValidTimestamp(request.due_before())) {
    return status::InvalidArgument("due_before", "is not a valid timestamp");
  }
  const std::string fingerprint =
      absl::StrCat(request.staff_id(), "|",
                   request.has_due_before() ? TimeUtil::ToString(request.due_before()) : "", "|",
                   request.overdue_only() ? "overdue" : "");
  CRM_ASSIGN_OR_RETURN(std::string cursor, Cursor(request.page_token(), "follow-ups", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));

  const Timestamp now = ToProto(clock_->Now());
  std::optional<Timestamp> bound;
  if (request.has_due_before()) bound = request.due_before();
  if (request.overdue_only() && (!bound.has_value() || Before(now, *bound))) bound = now;
  CRM_ASSIGN_OR_RETURN(auto page,
                       interactions_.FollowUps(request.staff_id(), bound, cursor, page_size));
  crm::v1::ListFollowUpsResponse response;
  for (auto& i : page.interactions) {
    crm::v1::FollowUp* follow_up = response.add_follow_ups();
    follow_up->set_overdue(Before(i.follow_up_due_time(), now));
    *follow_up->mutable_interaction() = std::move(i);
  }
  response.set_next_page_token(Token(page.next_cursor, "follow-ups", fingerprint));
  *response.mutable_now() = now;
  return response;
}

grpc::ServerUnaryReactor* InteractionQueryService::GetInteraction(grpc::CallbackServerContext* ctx,
                                                                  const grpc::ByteBuffer* in,
                                                                  grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::GetInteractionRequest, crm::v1::Interaction>(
      ctx, in, out, executor_,
      [this](const auto& request, const auto& call) { return queries_->Get(request, call); });
}

grpc::ServerUnaryReactor* InteractionQueryService::ListInteractions(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::ListInteractionsRequest, crm::v1::ListInteractionsResponse>(
      ctx, in, out, executor_,
      [this](const auto& request, const auto& call) { return queries_->List(request, call); });
}

grpc::ServerUnaryReactor* InteractionQueryService::GetCustomerTimeline(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::GetCustomerTimelineRequest, crm::v1::GetCustomerTimelineResponse>(
      ctx, in, out, executor_,
      [this](const auto& request, const auto& call) { return queries_->Timeline(request, call); });
}

grpc::ServerUnaryReactor* InteractionQueryService::ListFollowUps(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* in,
                                                                 grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::ListFollowUpsRequest, crm::v1::ListFollowUpsResponse>(
      ctx, in, out, executor_,
      [this](const auto& request, const auto& call) { return queries_->FollowUps(request, call); });
}

}  // namespace crm::services::interaction
