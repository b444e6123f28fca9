#include "services/command/command_executor.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/grant.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/metrics/metrics.h"
#include "common/status/errors.h"
#include "crm/events/v1/envelope.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"

namespace crm::services::command {
namespace {

// What the command side appends, for /metrics (common/metrics).
class AppendMetricSet {
 public:
  AppendMetricSet()
      : events_(metrics::Registry::Default().Counters(
            "crm_events_appended_total", "Events appended to the log by commands, by type.")),
        failed_(metrics::Registry::Default()
                    .Counters("crm_command_appends_failed_total",
                              "Command appends the log did not confirm (outcome unknown).")
                    .Add({})),
        latency_(metrics::Registry::Default()
                     .Histograms("crm_command_append_seconds",
                                 "Time from a command's append to the log's answer.",
                                 metrics::LatencyBuckets())
                     .Add({})) {
    // Every event type's series exists from the start, at 0, so that increase() over a range
    // counts a type's first event too.
    const google::protobuf::OneofDescriptor* payload =
        events::v1::EventEnvelope::descriptor()->FindOneofByName("payload");
    for (int i = 0; payload != nullptr && i < payload->field_count(); ++i) {
      const std::string type = payload->field(i)->message_type()->full_name();
      by_type_.emplace(type, events_.Add({{"type", type}}));
    }
  }

  void Observe(const absl::Status& status, const std::vector<std::string>& types,
               absl::Duration latency) {
    latency_.Observe(absl::ToDoubleSeconds(latency));
    if (!status.ok()) {
      failed_.Increment();
      return;
    }
    for (const std::string& type : types) {
      auto it = by_type_.find(type);  // every known type; the family for anything else
      (it != by_type_.end() ? it->second : events_.Add({{"type", type}})).Increment();
    }
  }

 private:
  metrics::CounterFamily events_;
  std::map<std::string, metrics::Counter> by_type_;  // filled once, read without a lock
  metrics::Counter failed_;
  metrics::Histogram latency_;
};

AppendMetricSet& AppendMetrics() {
  static AppendMetricSet* metrics = new AppendMetricSet();
  return *metrics;
}

using google::protobuf::util::TimeUtil;

// Phases of a command's answer (ExecuteRaw): its continuations are being attached, attached,
// or the answer arrived.
constexpr int kRegistering = 0;
constexpr int kRegistered = 1;
constexpr int kDone = 2;

}  // namespace

std::string EventTypeName(const Event& event) {
  const google::protobuf::OneofDescriptor* payload =
      Event::descriptor()->FindOneofByName("payload");
  const google::protobuf::FieldDescriptor* field =
      event.GetReflection()->GetOneofFieldDescriptor(event, payload);
  if (field == nullptr || field->message_type() == nullptr) return "";
  return field->message_type()->full_name();
}

std::vector<std::pair<std::string, std::string>> EventHeaders(const Event& event,
                                                              const std::string& source) {
  const std::string time = TimeUtil::ToString(event.recorded_at());
  const std::string subject = event.aggregate().empty()
                                  ? absl::StrCat("customers/", event.customer_id())
                                  : event.aggregate();
  return {
      {"event-type", event.event_type()},
      {"schema-version", absl::StrCat(event.schema_version())},
      {"event-id", event.event_id()},
      {"aggregate", subject},
      {"content-type", "application/x-protobuf; messageType=crm.events.v1.EventEnvelope"},
      {"ce_specversion", "1.0"},
      {"ce_id", event.event_id()},
      {"ce_source", source},
      {"ce_type", event.event_type()},
      {"ce_time", time},
      {"ce_subject", subject},
  };
}

absl::Status RequestIdReused(const crm::internal::v1::RequestRecord& first) {
  // Access control does not exist yet, so every caller may see the first request's target.
  return status::Error(absl::StatusCode::kAlreadyExists,
                       absl::StrCat("request_id was already used for another request (on ",
                                    first.aggregate(), "); use a new request_id for a new request"),
                       "REQUEST_ID_REUSED", {{"aggregate", first.aggregate()}});
}

CommandExecutor::CommandExecutor(eventlog::EventLog* log, fold::FoldRunner* state_runner,
                                 const AggregateState* state, const base::Clock* clock,
                                 Options options)
    : log_(log),
      state_runner_(state_runner),
      state_(state),
      clock_(clock),
      options_(std::move(options)) {}

void CommandExecutor::MarkUnsettled(const std::string& stream_key) {
  absl::MutexLock lock(&unsettled_mu_);
  unsettled_.insert(stream_key);
}

base::Future<CommandExecutor::RawResult> CommandExecutor::ExecuteRaw(const Target& target,
                                                                     const std::string& request_id,
                                                                     const rpc::CallContext& call,
                                                                     const AggregateKind& kind,
                                                                     const RawDecide& decide) {
  std::vector<std::string> keys = {absl::StrCat("a:", target.aggregate)};
  if (!request_id.empty()) keys.push_back(absl::StrCat("r:", request_id));
  if (target.exclusive_stream) keys.push_back(absl::StrCat("s:", target.stream_key));
  // Usually free at once; else this thread waits its turn behind the aggregate's command in
  // flight (decide must run here, where the caller's locals live).
  absl::StatusOr<LockTable::LockSet> acquired = locks_.Acquire(keys).Get();
  if (!acquired.ok()) return acquired.status();
  auto held = std::make_shared<LockTable::LockSet>(*std::move(acquired));

  std::vector<eventlog::AppendValue> values;
  absl::StatusOr<RawResult> decided = Decide(target, request_id, call, kind, decide, &values);
  if (!decided.ok()) return decided.status();
  if (values.empty()) return *std::move(decided);  // a retry's answer, or no change
  const int32_t count = static_cast<int32_t>(values.size());
  std::vector<std::string> types;  // for the metrics, once appended
  for (const eventlog::AppendValue& v : values) {
    for (const auto& [name, value] : v.headers) {
      if (name == "event-type") types.push_back(value);
    }
  }
  const absl::Time append_start = absl::Now();

  // Where the answer is delivered. A log that answers on the calling thread (the embedded log
  // appends there, and its commit listener has put the events into the state before the append
  // returns) lets the command finish right here, on the worker that decided it: no hand-off.
  // An answer that arrives later, on the log's or the fold's thread, goes to Options::post.
  // The locks go first, wherever the answer arrives (the next command on the aggregate may
  // decide now: its waiting thread never depends on the pool).
  struct Delivery {
    std::atomic<int> phase{kRegistering};
    base::Promise<RawResult> promise;
    std::optional<absl::StatusOr<RawResult>> result;  // set before phase becomes kDone
  };
  auto delivery = std::make_shared<Delivery>();
  base::Future<RawResult> answer = delivery->promise.future();
  auto finish = [this, held, delivery](absl::StatusOr<RawResult> r) mutable {
    held.reset();
    delivery->result = std::move(r);
    if (delivery->phase.exchange(kDone) == kRegistering) return;  // the caller delivers it
    auto deliver = [delivery] { delivery->promise.Set(std::move(*delivery->result)); };
    if (options_.post) {
      options_.post(std::move(deliver));
    } else {
      deliver();
    }
  };
  log_->AppendAsync(target.stream_key, std::move(values), call.deadline)
      .OnReady([this, stream_key = target.stream_key, result = *std::move(decided), count,
                types = std::move(types), append_start, finish = std::move(finish)](
                   absl::StatusOr<eventlog::LogPosition> appended) mutable {
        AppendMetrics().Observe(appended.status(), types, absl::Now() - append_start);
        if (!appended.ok()) {
          if (absl::IsInvalidArgument(appended.status())) {
            finish(appended.status());
            return;
          }
          MarkUnsettled(stream_key);
          finish(status::Error(absl::StatusCode::kUnavailable,
                               absl::StrCat("the event log did not confirm the command; it may or "
                                            "may not be recorded: retry with the same request_id (",
                                            appended.status().message(), ")"),
                               "APPEND_NOT_CONFIRMED"));
          return;
        }
        const eventlog::LogPosition position = *appended;
        result.consistency_token =
            eventlog::EncodeConsistencyToken({{position.partition, position.offset}});
        result.appended_event_count = count;
        // The next command on this aggregate must decide on these events: the locks are kept
        // until the state has them. The caller's deadline does not shorten this wait.
        state_runner_
            ->WhenApplied({{position.partition, position.offset}},
                          absl::Now() + options_.state_wait)
            .OnReady([this, stream_key, result = std::move(result),
                      finish = std::move(finish)](absl::StatusOr<base::Done> caught_up) mutable {
              if (!caught_up.ok()) {
                MarkUnsettled(stream_key);
                finish(status::Error(absl::StatusCode::kUnavailable,
                                     absl::StrCat("the command was recorded but its state is not "
                                                  "yet applied; retry with the same request_id: ",
                                                  caught_up.status().message()),
                                     "STATE_NOT_CAUGHT_UP"));
                return;
              }
              finish(std::move(result));
            });
      });
  if (delivery->phase.exchange(kRegistered) == kDone) {
    delivery->promise.Set(std::move(*delivery->result));  // answered already: on this thread
  }
  return answer;
}

absl::Status CommandExecutor::SettleIfNeeded(const std::string& stream_key, absl::Time deadline) {
  bool unsettled;
  {
    absl::MutexLock lock(&unsettled_mu_);
    unsettled = unsettled_.contains(stream_key);
  }
  if (unsettled) {
    CRM_RETURN_IF_ERROR(SyncStream(stream_key, deadline));
    absl::MutexLock lock(&unsettled_mu_);
    unsettled_.erase(stream_key);
  }
  return absl::OkStatus();
}

bool CommandExecutor::Guarded(const rpc::CallContext& call, const AggregateKind& kind) const {
  const auth::Grant* grant = call.grant.get();
  return grant != nullptr && !grant->everything() && kind.guarded();
}

std::vector<std::string> CommandExecutor::HoldersOf(const Target& target, const AggregateKind& kind,
                                                    const std::string& state) const {
  // The customer itself, or an aggregate of one (whose customer's owner reaches it too).
  const bool is_customer = target.aggregate == absl::StrCat("customers/", target.customer_id);
  std::vector<std::string> holders = kind.Holders(state);
  if (options_.customer_holders && !target.customer_id.empty() && !is_customer) {
    for (std::string& h : options_.customer_holders(target.customer_id)) {
      holders.push_back(std::move(h));
    }
  }
  return holders;
}

absl::Status CommandExecutor::CheckReach(const Target& target, const AggregateKind& kind,
                                         const rpc::CallContext& call,
                                         const crm::internal::v1::AggregateRecord& current) const {
  if (!Guarded(call, kind)) return absl::OkStatus();
  const bool is_customer = target.aggregate == absl::StrCat("customers/", target.customer_id);
  std::vector<std::string> holders;
  if (current.version() > 0) {
    holders = HoldersOf(target, kind, current.state());
  } else if (options_.customer_holders && !target.customer_id.empty() && !is_customer) {
    holders = options_.customer_holders(target.customer_id);
  }
  // A new customer has nothing to reach yet: what it becomes is checked after the decision.
  const bool new_customer = current.version() == 0 && is_customer;
  if (!new_customer && !call.grant->Reaches(holders)) return auth::Denied(target.aggregate);
  return absl::OkStatus();
}

absl::Status CommandExecutor::Stamp(const Target& target, const AggregateKind& kind,
                                    const std::string& request_id, const rpc::CallContext& call,
                                    const std::string& causation_id, absl::Time now,
                                    int64_t version, std::vector<Event> events, std::string* state,
                                    std::vector<eventlog::AppendValue>* values) const {
  const std::string correlation_id =
      call.correlation_id.empty() ? causation_id : call.correlation_id;
  for (Event& event : events) {
    event.set_event_id(base::NewUuid());
    event.set_customer_id(target.customer_id);
    event.set_aggregate(target.aggregate);
    event.set_aggregate_version(++version);
    *event.mutable_recorded_at() = base::ToTimestamp(now);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = event.recorded_at();
    event.set_actor(call.actor);
    event.set_request_id(request_id);
    if (!request_id.empty()) event.set_request_digest(call.request_digest);
    event.set_correlation_id(correlation_id);
    event.set_causation_id(causation_id);
    event.set_event_type(EventTypeName(event));
    event.set_schema_version(1);
    if (!kind.Owns(event)) {
      return absl::InternalError(
          absl::StrCat("decided event ", event.event_type(), " is not of the aggregate's kind"));
    }
    absl::StatusOr<std::string> applied = kind.Apply(*state, event);
    if (!applied.ok()) {
      return absl::InternalError(
          absl::StrCat("decided event does not apply: ", applied.status().message()));
    }
    *state = *std::move(applied);
    values->push_back({event.SerializeAsString(), EventHeaders(event, options_.event_source)});
  }
  return absl::OkStatus();
}

absl::StatusOr<CommandExecutor::RawResult> CommandExecutor::Decide(
    const Target& target, const std::string& request_id, const rpc::CallContext& call,
    const AggregateKind& kind, const RawDecide& decide,
    std::vector<eventlog::AppendValue>* values) {
  CRM_RETURN_IF_ERROR(SettleIfNeeded(target.stream_key, call.deadline));

  // Access (common/auth/grant.h): a caller acting with less than everything must reach the
  // aggregate as it is (or, for a new one, its customer) before anything else is said about it.
  const bool guarded = Guarded(call, kind);
  CRM_ASSIGN_OR_RETURN(crm::internal::v1::AggregateRecord current,
                       state_->Record(target.aggregate));
  CRM_RETURN_IF_ERROR(CheckReach(target, kind, call, current));

  if (!request_id.empty()) {
    CRM_ASSIGN_OR_RETURN(auto first_answer, state_->Request(request_id));
    if (first_answer.has_value()) {
      // A retry answers exactly as the first call did; the same id on another request is refused.
      const bool other_digest = !call.request_digest.empty() &&
                                !first_answer->request_digest().empty() &&
                                first_answer->request_digest() != call.request_digest;
      if (first_answer->aggregate() != target.aggregate || other_digest) {
        return RequestIdReused(*first_answer);
      }
      RawResult result;
      result.state = first_answer->state();
      result.consistency_token = first_answer->consistency_token();
      result.appended_event_count = first_answer->appended_event_count();
      return result;
    }
  }
  const absl::Time now = clock_->Now();
  absl::StatusOr<std::vector<Event>> decision = decide(current.state(), current.version(), now);
  if (!decision.ok()) {
    // What does not exist is not told to a caller who could not see it if it did.
    if (guarded && decision.status().code() == absl::StatusCode::kNotFound) {
      return auth::Denied(target.aggregate);
    }
    return decision.status();
  }
  std::vector<Event> decided = *std::move(decision);
  RawResult result;
  result.state = current.state();
  result.consistency_token = current.consistency_token();
  if (decided.empty()) return result;  // nothing changes: no event, same token

  // Stamp and check the events against the rules before they become facts.
  CRM_RETURN_IF_ERROR(Stamp(target, kind, request_id, call, base::NewUuid(), now, current.version(),
                            std::move(decided), &result.state, values));
  // ... and as the command leaves it: nobody hands a row to someone out of their reach.
  if (guarded && !call.grant->Reaches(HoldersOf(target, kind, result.state))) {
    values->clear();
    return auth::Denied(target.aggregate);
  }

  return result;
}

absl::StatusOr<CommandExecutor::LinkedResult> CommandExecutor::ExecuteLinked(
    const std::vector<Target>& targets, const std::string& request_id, const rpc::CallContext& call,
    const AggregateKind& kind, bool dry_run, const LinkedDecide& decide,
    const std::string& given_causation_id) {
  std::vector<std::string> keys;
  for (const Target& t : targets) {
    if (!t.written_elsewhere) keys.push_back(absl::StrCat("a:", t.aggregate));
  }
  if (!request_id.empty()) keys.push_back(absl::StrCat("r:", request_id));
  CRM_ASSIGN_OR_RETURN(LockTable::LockSet held, locks_.Acquire(keys).Get());

  const bool guarded = Guarded(call, kind);
  std::vector<crm::internal::v1::AggregateRecord> current;
  for (const Target& t : targets) {
    CRM_RETURN_IF_ERROR(t.written_elsewhere ? SyncStream(t.stream_key, call.deadline)
                                            : SettleIfNeeded(t.stream_key, call.deadline));
    CRM_ASSIGN_OR_RETURN(crm::internal::v1::AggregateRecord record, state_->Record(t.aggregate));
    CRM_RETURN_IF_ERROR(CheckReach(t, kind, call, record));
    current.push_back(std::move(record));
  }
  LinkedResult result;
  if (!request_id.empty() && !dry_run) {
    CRM_ASSIGN_OR_RETURN(auto first_answer, state_->Request(request_id));
    if (first_answer.has_value()) {
      const bool other_digest = !call.request_digest.empty() &&
                                !first_answer->request_digest().empty() &&
                                first_answer->request_digest() != call.request_digest;
      const bool ours = std::any_of(targets.begin(), targets.end(), [&](const Target& t) {
        return t.aggregate == first_answer->aggregate();
      });
      if (!ours || other_digest) return RequestIdReused(*first_answer);
      result.retry = true;
    }
  }
  for (const auto& record : current) {
    result.states.push_back(record.state());
    result.versions.push_back(record.version());
  }
  const absl::Time now = clock_->Now();
  absl::StatusOr<std::vector<std::vector<Event>>> decision =
      decide(result.states, result.versions, result.retry, now);
  if (!decision.ok()) {
    if (guarded && decision.status().code() == absl::StatusCode::kNotFound) {
      for (const Target& t : targets) {
        if (absl::StrContains(decision.status().message(), t.aggregate)) {
          return auth::Denied(t.aggregate);
        }
      }
      return auth::Denied(targets.front().aggregate);
    }
    return decision.status();
  }
  if (decision->size() != targets.size()) {
    return absl::InternalError("a linked decision must give events per target");
  }
  const std::string causation_id =
      given_causation_id.empty() ? base::NewUuid() : given_causation_id;
  std::vector<std::vector<eventlog::AppendValue>> values(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    CRM_RETURN_IF_ERROR(Stamp(targets[i], kind, request_id, call, causation_id, now,
                              result.versions[i], std::move((*decision)[i]), &result.states[i],
                              &values[i]));
    result.versions[i] += static_cast<int64_t>(values[i].size());
    if (guarded && !call.grant->Reaches(HoldersOf(targets[i], kind, result.states[i]))) {
      return auth::Denied(targets[i].aggregate);
    }
  }
  result.consistency_token = current.back().consistency_token();
  if (dry_run) return result;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (values[i].empty() || targets[i].written_elsewhere) continue;
    const int32_t count = static_cast<int32_t>(values[i].size());
    std::vector<std::string> types;
    for (const eventlog::AppendValue& v : values[i]) {
      for (const auto& [name, value] : v.headers) {
        if (name == "event-type") types.push_back(value);
      }
    }
    const absl::Time append_start = absl::Now();
    absl::StatusOr<eventlog::LogPosition> appended =
        log_->AppendAsync(targets[i].stream_key, std::move(values[i]), call.deadline).Get();
    AppendMetrics().Observe(appended.status(), types, absl::Now() - append_start);
    if (!appended.ok()) {
      if (absl::IsInvalidArgument(appended.status())) return appended.status();
      MarkUnsettled(targets[i].stream_key);
      return status::Error(
          absl::StatusCode::kUnavailable,
          absl::StrCat("the event log did not confirm the command (", i, " of its ", targets.size(),
                       " streams recorded before); retry with the same "
                       "request_id to complete it (",
                       appended.status().message(), ")"),
          "APPEND_NOT_CONFIRMED");
    }
    const eventlog::LogPosition position = *appended;
    result.consistency_token =
        eventlog::EncodeConsistencyToken({{position.partition, position.offset}});
    result.appended_event_count += count;
    absl::Status caught_up = state_runner_->WaitFor({{position.partition, position.offset}},
                                                    absl::Now() + options_.state_wait);
    if (!caught_up.ok()) {
      MarkUnsettled(targets[i].stream_key);
      return status::Error(absl::StatusCode::kUnavailable,
                           absl::StrCat("the command was recorded but its state is not yet "
                                        "applied; retry with the same request_id: ",
                                        caught_up.message()),
                           "STATE_NOT_CAUGHT_UP");
    }
  }
  return result;
}

absl::Status SyncStream(eventlog::EventLog* log, fold::FoldRunner* state_runner,
                        absl::string_view stream_key, absl::Time deadline) {
  absl::Status settled = log->Settle(stream_key, deadline);
  if (!settled.ok()) {
    return status::Error(
        absl::StatusCode::kUnavailable,
        absl::StrCat("an earlier command on this stream is still unconfirmed: ", settled.message()),
        "APPEND_NOT_CONFIRMED");
  }
  const int32_t partition = log->PartitionOf(stream_key);
  absl::StatusOr<int64_t> end = log->EndOffset(partition);
  if (!end.ok()) {
    return status::Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("the event log is unavailable: ", end.status().message()),
                         "LOG_UNAVAILABLE");
  }
  if (*end > 0) {
    absl::Status caught_up = state_runner->WaitFor({{partition, *end - 1}}, deadline);
    if (!caught_up.ok()) {
      return status::Error(absl::StatusCode::kUnavailable,
                           absl::StrCat("the command state is catching up: ", caught_up.message()),
                           "STATE_NOT_CAUGHT_UP");
    }
  }
  return absl::OkStatus();
}

absl::Status CommandExecutor::SyncStream(absl::string_view stream_key, absl::Time deadline) {
  return command::SyncStream(log_, state_runner_, stream_key, deadline);
}

std::string IdForCreate(absl::string_view id, absl::string_view method,
                        absl::string_view request_id) {
  if (!id.empty()) return std::string(id);
  if (!request_id.empty()) return base::UuidFromName(absl::StrCat(method, "/", request_id));
  return base::NewUuid();
}

}  // namespace crm::services::command
