// Improvement actions (改进和预防, DOMAIN section 5.7): pure decide/apply functions, in the style
// of domain/org (Decide*(state, request, lookup) -> events or why not; Apply(state, event)).
//
// An action is raised from a complaint root cause, owned by an active staff member, optionally
// due by a time and linked to complaints; it is OPEN until completed (DONE, with what was done)
// or cancelled (CANCELLED). Its events are organisation events (stream "org", no customer),
// aggregate "improvementActions/{id}". The rules are documented in proto/crm/v1/README.md
// ("Improvement actions").
//
// Every Decide* checks, in this order: request fields (INVALID_ARGUMENT naming every bad field),
// existence (NOT_FOUND IMPROVEMENT_ACTION_NOT_FOUND, ALREADY_EXISTS for a raise), the etag
// (ABORTED if stale), the state (FAILED_PRECONDITION IMPROVEMENT_ACTION_CLOSED for a change to a
// done or cancelled action), then references: the owner (NOT_FOUND STAFF_NOT_FOUND,
// FAILED_PRECONDITION STAFF_INACTIVE) and each complaint (NOT_FOUND COMPLAINT_NOT_FOUND naming
// complaints[i]). A command that would change nothing returns no events.
// Thread-safe: pure functions (the lookups must be safe to call from the calling thread).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/improvement.pb.h"
#include "crm/v1/org.pb.h"

namespace crm::domain::improvement {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;

inline constexpr absl::string_view kImprovementActionPrefix = "improvementActions/";

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxTitle = 200;
inline constexpr size_t kMaxText = 2000;
inline constexpr size_t kMaxReason = 500;
inline constexpr size_t kMaxComplaints = 1000;

std::string ImprovementActionName(absl::string_view id);
// The id in "improvementActions/{id}"; INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<std::string> ParseImprovementActionName(absl::string_view name,
                                                       absl::string_view field);

// What a decision reads about other aggregates. Each returns nullopt / false if it does not
// exist; errors are passed through.
struct ImprovementLookup {
  std::function<absl::StatusOr<std::optional<crm::v1::Staff>>(absl::string_view staff_id)> staff;
  // Whether the complaint "customers/{c}/complaints/{id}" exists.
  std::function<absl::StatusOr<bool>(absl::string_view complaint)> complaint_exists;
};

// `id` is the id to raise under, already chosen (request, request id, or generated).
absl::StatusOr<Events> DecideRaise(const crm::v1::ImprovementAction& state,
                                   const crm::v1::RaiseImprovementActionRequest& request,
                                   absl::string_view id, const ImprovementLookup& lookup);
absl::StatusOr<Events> DecideLinkComplaints(
    const crm::v1::ImprovementAction& state,
    const crm::v1::LinkImprovementComplaintsRequest& request, const ImprovementLookup& lookup);
absl::StatusOr<Events> DecideComplete(const crm::v1::ImprovementAction& state,
                                      const crm::v1::CompleteImprovementActionRequest& request);
absl::StatusOr<Events> DecideCancel(const crm::v1::ImprovementAction& state,
                                    const crm::v1::CancelImprovementActionRequest& request);

// Applies a stamped event: REQUIRES aggregate_version == state.version() + 1, the aggregate to be
// the state's, the first event to be the raise (FAILED_PRECONDITION otherwise); an unknown type
// moves the version only. Sets name, version, etag, create_time, update_time (recorded_at) and,
// for a completion or cancellation, close_time (occurred_at, else recorded_at).
absl::Status Apply(crm::v1::ImprovementAction& state, const Event& event);

// Whether the event belongs to an improvement action (by payload, or an unknown type naming one).
bool IsImprovementEvent(const Event& event);

}  // namespace crm::domain::improvement
