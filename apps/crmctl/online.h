// crmctl's online commands: each is one or a few gRPC calls to a running process, to
// crm.admin.v1.AdminService (status, rebuild, dead letters, events) or to the query services of
// crm.v1 (customers, complaints, surveys), printed as a table (for people) or JSON (for scripts).
// What each command prints and its exit codes: main.cc's header comment and docs/crmctl.md.
//
// Not thread-safe: one command per process.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/rpc/tls.h"
#include "crm/v1/customer_service.pb.h"
#include "grpcpp/grpcpp.h"

namespace crm::crmctl {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitServerError = 1;  // the server answered with an error
inline constexpr int kExitUsage = 2;        // bad arguments, or no connection

struct Connection {
  std::string server = "127.0.0.1:50051";
  // TLS (--tls, or any of --tls-ca/--tls-cert/--tls-key): the server's certificate verified
  // against tls.ca_file (or the system's CAs); tls.cert_file/key_file for mutual TLS.
  bool use_tls = false;
  rpc::ClientTlsOptions tls;
  // A bearer token (--token-file, CRM_TOKEN) sent as "authorization: Bearer ..." on every call.
  std::string token;
  bool json = false;                           // --output json
  absl::Duration timeout = absl::Seconds(10);  // per call
};

class Online {
 public:
  explicit Online(Connection connection);

  int Status();
  // `fold` or `store` (all its folds); with `wait`, polls GetStatus until they serve again.
  int Rebuild(const std::string& fold, const std::string& store, bool wait);
  int ListDeadLetters(const std::string& fold, int64_t limit);
  int ShowDeadLetter(const std::string& name);
  int RetryDeadLetter(const std::string& name);

  struct EventFilter {
    std::string customer_id;
    std::vector<std::string> types;  // full names or short ("CustomerRegistered")
    std::optional<absl::Time> since;
    std::optional<absl::Time> until;
    int64_t limit = 0;  // 0: no limit
    bool follow = false;
    bool from_end = false;
    absl::Duration poll_interval = absl::Seconds(1);
  };
  int Events(const EventFilter& filter);

  struct AuditFilter {
    std::string customer;  // an id or customers/{id}
    std::string subject;
    std::string method;  // full ("/crm.v1.CustomerQueryService/GetCustomer") or short
    std::optional<absl::Time> since;
    std::optional<absl::Time> until;
    int64_t limit = 0;  // 0: no limit
    bool follow = false;
    absl::Duration poll_interval = absl::Seconds(1);
  };
  int Audit(const AuditFilter& filter);

  int GetCustomer(const std::string& id);
  // MergeCustomers (survivor, merged: ids or customers/{id}); `request_id` empty: one derived
  // from the pair, so running the same merge again answers as the first run did.
  int MergeCustomers(const std::string& survivor, const std::string& merged, bool dry_run,
                     const std::string& request_id);
  // ArchiveCustomer (`archive`) or UnarchiveCustomer; prints the customer after it.
  int ArchiveCustomer(const std::string& id, bool archive, const std::string& reason);
  // RefundPurchase of `amount_minor` in `currency` (0: all that is not refunded yet);
  // `request_id` empty: one derived from every argument, so running the same refund again
  // answers as the first run did (it does not refund twice). Prints the customer after it.
  int RefundPurchase(const std::string& id, const std::string& purchase_id, int64_t amount_minor,
                     const std::string& currency, const std::string& reason,
                     const std::string& request_id);
  struct CustomerFilter {
    bool show_archived = false;
    std::string stage;
    std::string owner;
    std::string tier;
    std::string tag;
    int64_t limit = 0;
    // Search only (customer search).
    std::string query;
    std::string region;
    std::string industry;
    std::string kind;
  };
  int ListCustomers(const CustomerFilter& filter);
  int SearchCustomers(const CustomerFilter& filter);
  // FindCustomers with `request` (one key set; main checks that).
  int FindCustomers(const crm::v1::FindCustomersRequest& request);
  // Imports the customers of a CSV file (csv_import.h) through ImportCustomers and prints a
  // result per row and the counts. kExitServerError if any row failed; kExitUsage for a file
  // that cannot be read or parsed. `request_id`: empty derives it from the file's content.
  int ImportCustomers(const std::string& file, const std::string& request_id);
  int GetComplaint(const std::string& name);
  int ComplaintHistory(const std::string& name);
  // A survey (NAME: customers/{c}/surveys/{id} or {c}/{id}); a customer's surveys, optionally
  // in one state (AWAITING_ANSWER, ANSWERED, EXPIRED, with or without the SURVEY_ prefix).
  int GetSurvey(const std::string& name);
  int ListSurveys(const std::string& customer, const std::string& state);
  // A staff member's notifications (STAFF: an id or staff/{id}): all of them (list), or those
  // after `after` and then each new one until interrupted (watch; no deadline).
  int ListNotifications(const std::string& staff);
  int WatchNotifications(const std::string& staff, const std::string& after);

 private:
  // Fails (kExitUsage, with a message) if the server cannot be reached within the timeout.
  bool Connect();
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  // Prints a failed call's code, message and ErrorInfo reason to stderr; returns the exit code
  // (kExitUsage for a transport failure, else kExitServerError).
  int Failed(const char* what, const grpc::Status& status) const;
  // Pages through a customer listing (ListCustomers, SearchCustomers: `call` makes one call) up
  // to `limit` customers (0: all) and prints them as JSON lines or one table.
  template <typename Request, typename Response>
  int PrintCustomerPages(
      const char* what, Request& request, int64_t limit,
      const std::function<grpc::Status(grpc::ClientContext*, const Request&, Response*)>& call);

  const Connection connection_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace crm::crmctl
