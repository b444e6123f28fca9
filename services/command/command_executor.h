// CommandExecutor: runs a command on one aggregate (a complaint, an interaction, a department, a
// team, a staff member) the way services/customer runs customer commands:
//   1. locks the aggregate and the request id;
//   2. returns the stored first answer if the request id was seen (AIP-155), or refuses the id if
//      it was first used for another request (another aggregate, or CallContext::request_digest
//      differs: ALREADY_EXISTS, REQUEST_ID_REUSED);
//   3. checks that the caller reaches the aggregate (a guarded kind's rows: its holders and its
//      customer's owner, common/auth/grant.h) as it is, or for a new one its customer, and as
//      the command leaves it: else PERMISSION_DENIED, whether or not it exists; this runs
//      before a retried request id is answered too;
//      then runs the command's pure decide function against the aggregate's state;
//   4. stamps the events (event id, aggregate + version, customer id, times, actor, request id,
//      correlation and causation ids, event type, schema version), checks they apply, and
//      appends them durably under the stream key (the customer id, or "org");
//   5. waits until the state fold has applied them, then answers with the new state and the
//      consistency token of the last event.
// Steps 1-4 run on the calling thread (so `decide` may use the caller's locals); waiting for a
// busy aggregate's lock holds that thread too. Step 5 holds no thread: the append and the state
// wait complete futures. An answer there before Execute returns (the embedded log appends on the
// calling thread, and its commit listener applies the state before the append returns) is
// delivered on the calling thread, with no hand-off; one that arrives later is delivered through
// Options::post (a worker pool), never on the log's or the fold's thread. The locks are held
// until the answer is there.
// An append with an unknown outcome answers UNAVAILABLE and marks the stream unsettled: its next
// command first waits for the outcome to be final and for the state to read the partition to its
// end, so no decision is made on state that misses an event.
//
// Thread-safe: commands on different aggregates run in parallel.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/future.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/unary.h"
#include "services/access/holders.h"
#include "services/command/aggregate_state.h"
#include "services/command/lock_table.h"

namespace crm::services::command {

// The stream key of organisation events (departments, teams, staff).
inline constexpr char kOrgStreamKey[] = "org";

// Where a command's events go.
struct Target {
  // Log key: the customer id for customer-scoped aggregates, kOrgStreamKey for the org.
  std::string stream_key;
  // EventEnvelope.customer_id: the customer id, empty for the org.
  std::string customer_id;
  // EventEnvelope.aggregate: the aggregate's resource name.
  std::string aggregate;
  // Lock the whole stream, not only the aggregate: for commands whose rules read other
  // aggregates of the stream (the org), so they run one at a time.
  bool exclusive_stream = false;
  // ExecuteLinked only: another replica writes this stream (and holds the aggregate's lock for
  // the command). It is read, not locked: once its stream is read to the end (SyncStream), so
  // the decision sees its last event. Its decided events are checked (they apply, and the
  // caller reaches the aggregate as they leave it) but not appended: its writer appends them.
  bool written_elsewhere = false;
};

template <typename StateT>
struct CommandResult {
  StateT state;  // after the command
  std::string consistency_token;
  // Events the command appended: 0 for no change; a retried request id answers its first
  // call's count.
  int32_t appended_event_count = 0;
};

// The answer of a command service: the resource (the state after the command, set through
// `mutable_resource`), the consistency token and the appended event count.
template <typename Response, typename StateT>
Response ResponseOf(CommandResult<StateT> result, StateT* (Response::*mutable_resource)()) {
  Response response;
  *(response.*mutable_resource)() = std::move(result.state);
  response.set_consistency_token(std::move(result.consistency_token));
  response.set_appended_event_count(result.appended_event_count);
  return response;
}

class CommandExecutor {
 public:
  struct Options {
    // The CloudEvents "source" of the events.
    std::string event_source = "crm/command";
    // How long a command waits for its own events to reach the state.
    absl::Duration state_wait = absl::Seconds(30);
    // Runs the continuation of a command whose events reached the state after Execute returned
    // (a worker pool); null: on the fold's thread (tests).
    std::function<void(std::function<void()>)> post;
    // The staff ids holding customer `customer_id` (its owner), for the access check of the
    // rows of guarded kinds (common/auth/grant.h); null: a customer has no holders.
    access::CustomerHolders customer_holders;
  };

  // Does not take ownership. `state_runner` folds `log` into the store `state` reads, with an
  // AggregateStateFold over the kinds used here.
  CommandExecutor(eventlog::EventLog* log, fold::FoldRunner* state_runner,
                  const AggregateState* state, const base::Clock* clock, Options options);

  // decide(current state, version (0: does not exist), now) -> events with payload (and
  // occurred_at for facts with a business time) only; empty = no change.
  template <typename StateT>
  using DecideFn = std::function<absl::StatusOr<std::vector<Event>>(
      const StateT& current, int64_t version, absl::Time now)>;

  // `decide` runs before Execute returns; the future completes once the command's events are
  // in the state (or it failed): on the calling thread if before Execute returns, else on a
  // thread of Options::post.
  template <typename StateT>
  base::Future<CommandResult<StateT>> Execute(const Target& target, const std::string& request_id,
                                              const rpc::CallContext& call,
                                              const TypedKind<StateT>& kind,
                                              const DecideFn<StateT>& decide) {
    RawDecide raw = [&](const std::string& state, int64_t version,
                        absl::Time now) -> absl::StatusOr<std::vector<Event>> {
      StateT typed;
      if (!typed.ParseFromString(state)) return absl::InternalError("state cannot be decoded");
      return decide(typed, version, now);
    };
    return ExecuteRaw(target, request_id, call, kind, raw)
        .Then([](RawResult raw_result) -> absl::StatusOr<CommandResult<StateT>> {
          CommandResult<StateT> result;
          if (!result.state.ParseFromString(raw_result.state)) {
            return absl::InternalError("state cannot be decoded");
          }
          result.consistency_token = std::move(raw_result.consistency_token);
          result.appended_event_count = raw_result.appended_event_count;
          return result;
        });
  }

  // A command on several aggregates at once (a merge of two customers), all of `kind`:
  //   1. locks every target and the request id together (commands on any of them wait); a
  //      target written elsewhere (Target::written_elsewhere) is not locked but read to the end
  //      of its stream;
  //   2. refuses a request id first used on another aggregate or for another request
  //      (REQUEST_ID_REUSED); a request id seen on one of the targets does NOT answer at once:
  //      `decide` runs again (it must decide nothing for what is done, so a retry appends
  //      nothing, and completes what an interrupted first call left undone);
  //   3. checks that the caller reaches every target as it is and as the command leaves it;
  //   4. decide(states, versions, now) -> the events per target, in target order;
  //   5. unless `dry_run`, appends each target's events in target order (those written here),
  //      each once the previous one is durable and in the state, all stamped with one causation
  //      id: `causation_id` if set (the id the other half of a command split over replicas has),
  //      else a new one.
  // The appends are separate: a failure between them (UNAVAILABLE) leaves the first targets'
  // events recorded and the rest not; the caller's retry completes them (step 2).
  // Blocks the calling thread until done (the locks are held throughout). Answers the states
  // after the command (in a dry run, as they would be), the token of the last event appended
  // (or, if none, of the last target's last event) and the count appended.
  struct LinkedResult {
    std::vector<std::string> states;
    std::vector<int64_t> versions;
    std::string consistency_token;
    int32_t appended_event_count = 0;
    // The request id had been seen (a retry).
    bool retry = false;
  };
  using LinkedDecide = std::function<absl::StatusOr<std::vector<std::vector<Event>>>(
      const std::vector<std::string>& states, const std::vector<int64_t>& versions, bool retry,
      absl::Time now)>;
  absl::StatusOr<LinkedResult> ExecuteLinked(const std::vector<Target>& targets,
                                             const std::string& request_id,
                                             const rpc::CallContext& call,
                                             const AggregateKind& kind, bool dry_run,
                                             const LinkedDecide& decide,
                                             const std::string& causation_id = "");

  // Waits until the state has read `stream_key`'s partition to its current end. For lookups of
  // another stream's aggregates (e.g. a staff member added through another replica a moment
  // ago) that were not found: sync, then look again. UNAVAILABLE if not by `deadline`.
  absl::Status SyncStream(absl::string_view stream_key, absl::Time deadline);

  const AggregateState& state() const { return *state_; }
  const base::Clock& clock() const { return *clock_; }

 private:
  using RawDecide = std::function<absl::StatusOr<std::vector<Event>>(
      const std::string& state, int64_t version, absl::Time now)>;
  struct RawResult {
    std::string state;
    std::string consistency_token;
    int32_t appended_event_count = 0;
  };
  base::Future<RawResult> ExecuteRaw(const Target& target, const std::string& request_id,
                                     const rpc::CallContext& call, const AggregateKind& kind,
                                     const RawDecide& decide);
  // Everything up to the append (steps 2-4), with the locks held.
  absl::StatusOr<RawResult> Decide(const Target& target, const std::string& request_id,
                                   const rpc::CallContext& call, const AggregateKind& kind,
                                   const RawDecide& decide,
                                   std::vector<eventlog::AppendValue>* values);
  void MarkUnsettled(const std::string& stream_key);
  // Waits for an unsettled stream (an earlier append with an unknown outcome) to settle.
  absl::Status SettleIfNeeded(const std::string& stream_key, absl::Time deadline);
  // The staff holding `target` in serialized `state` (and its customer's owner, for an aggregate
  // of a customer).
  std::vector<std::string> HoldersOf(const Target& target, const AggregateKind& kind,
                                     const std::string& state) const;
  // Whether a caller with less than everything must reach the aggregate (common/auth/grant.h).
  bool Guarded(const rpc::CallContext& call, const AggregateKind& kind) const;
  // PERMISSION_DENIED unless the caller reaches `target` as `current` has it (or, new, its
  // customer).
  absl::Status CheckReach(const Target& target, const AggregateKind& kind,
                          const rpc::CallContext& call,
                          const crm::internal::v1::AggregateRecord& current) const;
  // Stamps decided `events` for `target` at `version` onwards, checks they apply to `state`
  // (updated) and adds them to `values`.
  absl::Status Stamp(const Target& target, const AggregateKind& kind, const std::string& request_id,
                     const rpc::CallContext& call, const std::string& causation_id, absl::Time now,
                     int64_t version, std::vector<Event> events, std::string* state,
                     std::vector<eventlog::AppendValue>* values) const;

  eventlog::EventLog* const log_;
  fold::FoldRunner* const state_runner_;
  const AggregateState* const state_;
  const base::Clock* const clock_;
  const Options options_;
  LockTable locks_;
  absl::Mutex unsettled_mu_;
  absl::flat_hash_set<std::string> unsettled_ ABSL_GUARDED_BY(unsettled_mu_);
};

// Waits until `state_runner` (folding `log`) has read `stream_key`'s partition to its current end,
// after every earlier append of the partition has a final outcome (EventLog::Settle). What a
// command must do before deciding on a stream whose last append had an unknown outcome.
// UNAVAILABLE (reasons APPEND_NOT_CONFIRMED, LOG_UNAVAILABLE, STATE_NOT_CAUGHT_UP) if not by
// `deadline`.
absl::Status SyncStream(eventlog::EventLog* log, fold::FoldRunner* state_runner,
                        absl::string_view stream_key, absl::Time deadline);

// ALREADY_EXISTS (reason REQUEST_ID_REUSED, metadata `aggregate`) for a request id whose first
// request was another one.
absl::Status RequestIdReused(const crm::internal::v1::RequestRecord& first);

// Full protobuf name of the payload set in `event` (e.g. "crm.events.v1.ComplaintFiled"), empty
// if none.
std::string EventTypeName(const Event& event);

// The id a create command creates under: `id` if set; else a name-based UUID of
// "<method>/<request_id>" (so a retry, on any replica, targets the same aggregate); else a new
// UUID. `method` names the command, e.g. "crm.v1.RegisterCustomer".
std::string IdForCreate(absl::string_view id, absl::string_view method,
                        absl::string_view request_id);

// Transport headers of an event: event type, schema version, event id, aggregate, content type
// and the CloudEvents binary-mode attributes (ce_specversion, ce_id, ce_source, ce_type, ce_time,
// ce_subject = the aggregate).
std::vector<std::pair<std::string, std::string>> EventHeaders(const Event& event,
                                                              const std::string& source);

}  // namespace crm::services::command
