// Auditor: where the ServiceTable (common/rpc/service_table.h) records who read which customers'
// personal data. A method whose answer carries personal data is marked audited where its
// service registers it (ServiceTable::AuditReads); for every OK answer of such a method that
// carries at least one customer, the table hands a ReadRecord to the Auditor and releases the
// answer only once the Auditor says the record is durable. If it cannot be recorded, the caller
// gets UNAVAILABLE (reason AUDIT_UNAVAILABLE) instead of the data: the audit fails closed. An
// answer that is an error, or carries no customer (an empty page), records nothing.
//
// Which customers an answer carries is read from the typed response in one way for every method
// (CustomersIn: protobuf reflection), so no handler writes audit code; a method whose answer is
// not shaped like that (raw log records, a backup) gives its own reading at registration.
//
// Thread-safe: implementations are called concurrently from any worker.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/base/future.h"
#include "google/protobuf/message.h"

namespace crm::rpc {

// What one audited call read.
struct ReadRecord {
  // The authenticated principal's subject; without authentication the call's actor (the
  // unverified "x-crm-actor" metadata, or "anonymous").
  std::string subject;
  // "staff" or "service" (auth::KindName), or "unauthenticated".
  std::string principal_kind;
  // The client certificate's verified identity, or empty.
  std::string peer_identity;
  // "/crm.v1.CustomerQueryService/GetCustomer".
  std::string method;
  std::string request_id;
  std::string correlation_id;
  // Resource names "customers/{id}", each once, in order of first appearance; or {"*"}.
  std::vector<std::string> customers;
  // By then the record must be durable or refused.
  absl::Time deadline = absl::InfiniteFuture();
};

class Auditor {
 public:
  virtual ~Auditor() = default;
  // Makes `record` durable; the future completes OK once it is, or with the error that kept it
  // from being recorded (the call then answers UNAVAILABLE). Must not block the caller's thread
  // for long: the continuation may run on the log's own thread.
  virtual base::Future<base::Done> Record(ReadRecord record) = 0;
};

// The wildcard of a read that carried every customer (a backup).
inline constexpr char kEveryCustomer[] = "*";

// Which customers' data an answer carries, as resource names ("customers/{id}").
using CustomersRead = std::vector<std::string> (*)(const google::protobuf::Message& response);

// The generic reading, by protobuf reflection over the whole response (nested messages and
// repeated fields included, map fields skipped: their values are free text):
//   - a string field named `customer_id` holding an id: "customers/{id}";
//   - a string field named `name`, `customer`, `parent`, `resource` or `aggregate` (resource
//     names and references, AIP-122) holding "customers/{id}" or "customers/{id}/...":
//     "customers/{id}" ("customers/-", the wildcard of a list request, is not a customer).
// Each customer once, in order of first appearance.
std::vector<std::string> CustomersIn(const google::protobuf::Message& response);

// {"*"}: for an export of everything.
std::vector<std::string> EveryCustomer(const google::protobuf::Message& response);

}  // namespace crm::rpc
