// crmctl: the command line of the CRM's operators and power users (docs/crmctl.md).
//
// Online commands talk gRPC to a running process (crm-server, crm-command or crm-projector):
// to its crm.admin.v1.AdminService (proto/crm/admin/v1/admin_service.proto) and, for the
// queries, to the crm.v1 query services. They never open a process's stores. Flags of every
// online command:
//   --server HOST:PORT   the process (env CRM_SERVER; default 127.0.0.1:50051)
//   --output table|json  tables for people (default) or JSON: one object, or for lists one object
//                        a line (JSON Lines), with the .proto's field names
//   --timeout SECONDS    per call (default 10)
//
//   crmctl status
//     The process: binary and roles, version, engine and log, start time, partitions written
//     and read, health; per store each fold (version, serving/refolding, dead letters, records
//     of unknown types, applied offsets) and per partition the applied offset, the log's end,
//     the lag in offsets and in time.
//   crmctl rebuild (--fold NAME | --store NAME) [--wait]
//     Refolds a view (or every fold of a store) from the start of the log while the process
//     serves; queries over it answer UNAVAILABLE (VIEW_REBUILDING) meanwhile. --wait returns once
//     it serves again. The command state is rebuilt at start only (--rebuild).
//   crmctl dead-letters list [--fold NAME] [--limit N]
//   crmctl dead-letters show NAME      (NAME: folds/{fold}/deadLetters/{partition}-{offset})
//   crmctl dead-letters retry NAME
//     Records a fold could not decode: list them, show one (headers, raw value, decoded if it
//     decodes), apply one again (FAILED_PRECONDITION, DEAD_LETTER_STILL_FAILS, if it still
//     cannot be decoded).
//   crmctl events [--customer ID] [--type T]... [--since TIME] [--until TIME] [--limit N]
//                 [--follow [--from-end] [--poll-interval SECONDS]]
//     The log's events, decoded (crm.events.v1): in table mode one line per event (position,
//     recording time, key, type, the payload as JSON). TIME is RFC 3339
//     (2026-12-04T10:00:00Z) or a duration before now (15m, 2h). --type takes full or short
//     names (CustomerRegistered). --follow keeps polling for new events (Ctrl-C ends it);
//     --from-end skips what is already in the log.
//   crmctl audit [--customer ID] [--subject S] [--method M] [--since TIME] [--until TIME]
//                [--limit N] [--follow [--poll-interval SECONDS]]
//     The audit of reads (AdminService.ListAuditRecords): one line per answered read of
//     customers' personal data (time, subject and its kind, method, the customers it carried;
//     "*" for a backup), oldest first. --method takes the full or the short name (GetCustomer).
//   crmctl customer get ID | list [--stage S] [--owner O] [--tier T] [--tag T] [--limit N] |
//                  search [QUERY] [--region R] [--industry I] [--kind K] [--stage S] [--owner O]
//                         [--tier T] [--tag T] [--limit N] |
//                  find (--email E | --phone P | --external-id X | --social NETWORK:HANDLE |
//                        --contact-email E | --contact-phone P)
//     search: customers whose display name starts with QUERY (Latin without case, full-width as
//     half-width, Chinese as written) and that match every filter, in display-name order.
//   crmctl import customers FILE.csv [--request-id ID]
//     Bulk import through ImportCustomers: the CSV's header names the columns (csv_import.h,
//     docs/crmctl.md "Import"); prints one line per row (row = the record's line in the file,
//     outcome, customer, events appended, error) and the counts. Exits 1 if any row failed.
//     Importing the same file again is a retry (the request id is derived from the content):
//     nothing is recorded twice. Give --timeout for long files.
//   crmctl complaint get NAME | history NAME   (NAME: customers/{c}/complaints/{id} or {c}/{id})
//   crmctl survey get NAME | list CUSTOMER [--state S]   (NAME: customers/{c}/surveys/{id} or
//                                                         {c}/{id})
//     The common queries (crm.v1.CustomerQueryService, crm.v1.ComplaintQueryService,
//     crm.v1.SurveyQueryService).
//   crmctl notifications list STAFF | watch STAFF [--after CURSOR]
//     A staff member's notifications (crm.v1.NotificationService): all of them, or (watch) those
//     after CURSOR and then each new one as it comes, one line each ending with its cursor,
//     until interrupted.
//
// Offline tools, for the data directory of a stopped server:
//   crmctl verify --data-dir DIR
//     Opens every store under DIR (the event log, the command state, the views: each
//     subdirectory holding a RocksDB store) for reading only, replays its write-ahead log and
//     verifies every table file's checksums, as the server does at start. Prints one line per
//     store ("ok" or "damaged" with RocksDB's message naming the file) and exits 0 if all are
//     sound, 1 if any is damaged, 2 if DIR holds no store.
//   crmctl restore --from BACKUP --data-dir DIR
//     Makes DIR a copy of BACKUP (a directory written by crm.admin.v1.BackupService), after
//     checking BACKUP as verify does. DIR must not exist or be empty: move a damaged data
//     directory aside first, never over it. The copy is made beside DIR and renamed into place,
//     so an interrupted restore leaves no half-restored DIR. Exits 0 when restored, 1 if BACKUP
//     is damaged, 2 for a bad BACKUP or DIR.
//
// Exit codes of the online commands: 0 done; 1 the server answered with an error (printed to
// stderr with its code, message and ErrorInfo reason), or an imported row failed; 2 bad usage or
// no connection.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "apps/crmctl/csv_import.h"
#include "apps/crmctl/offline.h"
#include "apps/crmctl/online.h"

namespace {

using crm::crmctl::kExitUsage;

// RFC 3339, or a duration before now ("15m"); nullopt if neither.
std::optional<absl::Time> ParseTimeFlag(const std::string& text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  absl::Duration ago;
  if (absl::ParseDuration(text, &ago) && ago >= absl::ZeroDuration()) return absl::Now() - ago;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "crmctl: the CRM's command line (online: a running server over gRPC; offline: a "
      "stopped server's data directory)"};
  app.require_subcommand(1);
  // Global flags may also follow the subcommand; a flag given twice keeps its last value.
  app.fallthrough();
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  crm::crmctl::Connection connection;
  std::string output = "table";
  double timeout_seconds = 10;
  app.add_option("--server", connection.server, "The server's gRPC address HOST:PORT")
      ->envname("CRM_SERVER")
      ->capture_default_str();
  bool use_tls = false;
  std::string token_file;
  app.add_flag("--tls", use_tls, "Connect with TLS (implied by --tls-ca/--tls-cert/--tls-key)");
  app.add_option("--tls-ca", connection.tls.ca_file,
                 "CA certificates (PEM) to verify the server with; default: the system's")
      ->envname("CRM_TLS_CA");
  app.add_option("--tls-cert", connection.tls.cert_file, "Client certificate (PEM), mutual TLS")
      ->envname("CRM_TLS_CLIENT_CERT");
  app.add_option("--tls-key", connection.tls.key_file, "Client private key (PEM), mutual TLS")
      ->envname("CRM_TLS_CLIENT_KEY");
  app.add_option("--tls-server-name", connection.tls.server_name,
                 "Name to check the server's certificate for, instead of --server's host");
  app.add_option("--token-file", token_file,
                 "File holding a bearer token (JWT) sent with every call; env CRM_TOKEN holds one "
                 "directly")
      ->envname("CRM_TOKEN_FILE");
  app.add_option("--output", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds, "Seconds per call")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  CLI::App* status = app.add_subcommand("status", "The process, its folds, positions and lag");

  std::string fold;
  std::string store;
  bool wait = false;
  CLI::App* rebuild =
      app.add_subcommand("rebuild", "Refold a view (or a store's folds) while the process serves");
  auto* fold_opt = rebuild->add_option("--fold", fold, "The fold (as in status)");
  auto* store_opt = rebuild->add_option("--store", store, "Every fold of this store (views)");
  rebuild->add_flag("--wait", wait, "Return once the folds serve again");
  fold_opt->excludes(store_opt);

  CLI::App* dead = app.add_subcommand("dead-letters", "Records a fold could not decode");
  dead->require_subcommand(1);
  int64_t limit = 0;
  std::string name;
  CLI::App* dead_list = dead->add_subcommand("list", "List dead letters");
  dead_list->add_option("--fold", fold, "Only this fold's");
  dead_list->add_option("--limit", limit, "At most this many")->check(CLI::NonNegativeNumber);
  CLI::App* dead_show = dead->add_subcommand("show", "One dead letter with its record");
  dead_show->add_option("name", name, "folds/{fold}/deadLetters/{partition}-{offset}")->required();
  CLI::App* dead_retry = dead->add_subcommand("retry", "Apply a dead letter's record again");
  dead_retry->add_option("name", name, "folds/{fold}/deadLetters/{partition}-{offset}")->required();

  crm::crmctl::Online::EventFilter events_filter;
  std::string since;
  std::string until;
  double poll_seconds = 1;
  CLI::App* events = app.add_subcommand("events", "The log's events, decoded");
  events->add_option("--customer", events_filter.customer_id, "Only this customer's (the key)");
  events->add_option("--type", events_filter.types, "Only this event type (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  events->add_option("--since", since, "Recorded at or after (RFC 3339, or a duration ago: 15m)");
  events->add_option("--until", until, "Recorded before (RFC 3339, or a duration ago)");
  events->add_option("--limit", events_filter.limit, "At most this many")
      ->check(CLI::NonNegativeNumber);
  events->add_flag("--follow", events_filter.follow, "Keep polling for new events (Ctrl-C ends)");
  events->add_flag("--from-end", events_filter.from_end,
                   "Start at the log's end (with --follow: only new events)");
  events->add_option("--poll-interval", poll_seconds, "Seconds between polls when following")
      ->check(CLI::PositiveNumber);

  crm::crmctl::Online::AuditFilter audit_filter;
  CLI::App* audit = app.add_subcommand(
      "audit", "The audit of reads: who read which customer's data, when, through which method");
  audit->add_option("--customer", audit_filter.customer, "Only reads of this customer");
  audit->add_option("--subject", audit_filter.subject, "Only reads by this subject");
  audit->add_option("--method", audit_filter.method,
                    "Only reads through this method (GetCustomer, or the full name)");
  audit->add_option("--since", since, "Recorded at or after (RFC 3339, or a duration ago: 15m)");
  audit->add_option("--until", until, "Recorded before (RFC 3339, or a duration ago)");
  audit->add_option("--limit", audit_filter.limit, "At most this many")
      ->check(CLI::NonNegativeNumber);
  audit->add_flag("--follow", audit_filter.follow, "Keep polling for new records (Ctrl-C ends)");
  audit->add_option("--poll-interval", poll_seconds, "Seconds between polls when following")
      ->check(CLI::PositiveNumber);

  CLI::App* customer = app.add_subcommand("customer", "Customers (crm.v1.CustomerQueryService)");
  customer->require_subcommand(1);
  std::string id;
  CLI::App* customer_get = customer->add_subcommand("get", "A customer by id");
  customer_get->add_option("id", id, "The customer id (or customers/{id})")->required();
  crm::crmctl::Online::CustomerFilter customer_filter;
  CLI::App* customer_list = customer->add_subcommand("list", "Customers matching every filter");
  customer_list->add_option("--stage", customer_filter.stage, "Lifecycle stage, e.g. LOYAL");
  customer_list->add_option("--owner", customer_filter.owner, "Owner's staff id");
  customer_list->add_option("--tier", customer_filter.tier, "Value tier, e.g. HIGH_VALUE");
  customer_list->add_option("--tag", customer_filter.tag, "A tag");
  customer_list->add_option("--limit", customer_filter.limit, "At most this many")
      ->check(CLI::NonNegativeNumber);
  customer_list->add_flag("--archived", customer_filter.show_archived, "Also archived customers");
  crm::crmctl::Online::CustomerFilter search_filter;
  CLI::App* customer_search = customer->add_subcommand(
      "search", "Customers by display-name prefix and filters, in name order");
  customer_search->add_option("query", search_filter.query, "A prefix of the display name");
  customer_search->add_option("--region", search_filter.region, "Region (whole value)");
  customer_search->add_option("--industry", search_filter.industry, "Industry (whole value)");
  customer_search->add_option("--kind", search_filter.kind, "PERSON or COMPANY");
  customer_search->add_option("--stage", search_filter.stage, "Lifecycle stage, e.g. LOYAL");
  customer_search->add_option("--owner", search_filter.owner, "Owner's staff id");
  customer_search->add_option("--tier", search_filter.tier, "Value tier, e.g. HIGH_VALUE");
  customer_search->add_option("--tag", search_filter.tag, "A tag");
  customer_search->add_option("--limit", search_filter.limit, "At most this many")
      ->check(CLI::NonNegativeNumber);
  customer_search->add_flag("--archived", search_filter.show_archived, "Also archived customers");
  std::string email;
  std::string phone;
  std::string external_id;
  std::string social;
  std::string contact_email;
  std::string contact_phone;
  CLI::App* customer_find = customer->add_subcommand(
      "find", "Customers by e-mail, phone, external id, social id or a contact's e-mail or phone");
  auto* email_opt = customer_find->add_option("--email", email, "An e-mail address");
  auto* phone_opt = customer_find->add_option("--phone", phone, "A phone number");
  auto* external_opt =
      customer_find->add_option("--external-id", external_id, "The id in another system");
  customer_find->add_option("--social", social,
                            "A social id, NETWORK:HANDLE (e.g. wechat:wx_ada; networks: wechat, "
                            "weibo, linkedin, whatsapp, other_network)");
  customer_find->add_option("--contact-email", contact_email, "A contact person's e-mail");
  customer_find->add_option("--contact-phone", contact_phone, "A contact person's phone");
  email_opt->excludes(phone_opt);
  std::string survivor, merged, merge_request_id;
  bool merge_dry_run = false;
  CLI::App* customer_merge = customer->add_subcommand(
      "merge", "Merge a duplicate customer into another (CustomerCommandService.MergeCustomers)");
  customer_merge->add_option("survivor", survivor, "The customer that stays")->required();
  customer_merge->add_option("merged", merged, "The duplicate merged into it")->required();
  customer_merge->add_flag("--dry-run", merge_dry_run, "Show what would move; change nothing");
  customer_merge->add_option("--request-id", merge_request_id,
                             "Request id (default: derived from the pair)");
  email_opt->excludes(external_opt);
  phone_opt->excludes(external_opt);
  std::string archive_reason;
  CLI::App* customer_archive =
      customer->add_subcommand("archive", "Archive a customer (CustomerCommandService)");
  CLI::App* customer_unarchive =
      customer->add_subcommand("unarchive", "Make an archived customer active again");
  for (CLI::App* sub : {customer_archive, customer_unarchive}) {
    sub->add_option("id", id, "The customer id (or customers/{id})")->required();
    sub->add_option("--reason", archive_reason, "Why (recorded in the event)");
  }
  std::string refund_purchase_id, refund_currency, refund_reason, refund_request_id;
  int64_t refund_amount = 0;
  CLI::App* customer_refund = customer->add_subcommand(
      "refund", "Refund a purchase in part or in whole (CustomerCommandService.RefundPurchase)");
  customer_refund->add_option("id", id, "The customer id (or customers/{id})")->required();
  customer_refund->add_option("purchase_id", refund_purchase_id, "The purchase's id")->required();
  auto* amount_opt = customer_refund
                         ->add_option("--amount-minor", refund_amount,
                                      "Amount in minor units (default: all not yet refunded)")
                         ->check(CLI::PositiveNumber);
  customer_refund->add_option("--currency", refund_currency, "The purchase's currency, e.g. CNY")
      ->needs(amount_opt);
  amount_opt->needs(customer_refund->get_option("--currency"));
  customer_refund->add_option("--reason", refund_reason, "Why (recorded in the event)");
  customer_refund->add_option("--request-id", refund_request_id,
                              "Request id (default: derived from the arguments)");

  CLI::App* import = app.add_subcommand("import", "Bulk import (ImportCustomers)");
  import->require_subcommand(1);
  std::string import_file;
  std::string import_request_id;
  CLI::App* import_customers =
      import->add_subcommand("customers", "Customers from a CSV file (docs/crmctl.md, Import)");
  import_customers->add_option("file", import_file, "The CSV file, with a header row")->required();
  import_customers->add_option("--request-id", import_request_id,
                               "The import's request id (default: derived from the content)");

  CLI::App* complaint =
      app.add_subcommand("complaint", "Complaints (crm.v1.ComplaintQueryService)");
  complaint->require_subcommand(1);
  CLI::App* complaint_get = complaint->add_subcommand("get", "A complaint");
  complaint_get->add_option("name", name, "customers/{c}/complaints/{id}, or {c}/{id}")->required();
  CLI::App* complaint_history =
      complaint->add_subcommand("history", "A complaint's events, oldest first");
  complaint_history->add_option("name", name, "customers/{c}/complaints/{id}, or {c}/{id}")
      ->required();

  CLI::App* survey = app.add_subcommand("survey", "Surveys (crm.v1.SurveyQueryService)");
  survey->require_subcommand(1);
  CLI::App* survey_get = survey->add_subcommand("get", "A survey");
  survey_get->add_option("name", name, "customers/{c}/surveys/{id}, or {c}/{id}")->required();
  std::string survey_state;
  CLI::App* notifications =
      app.add_subcommand("notifications", "Notifications (crm.v1.NotificationService)");
  notifications->require_subcommand(1);
  std::string staff, after;
  CLI::App* notifications_list =
      notifications->add_subcommand("list", "A staff member's notifications, in log order");
  notifications_list->add_option("staff", staff, "The staff id (or staff/{id})")->required();
  CLI::App* notifications_watch = notifications->add_subcommand(
      "watch", "A staff member's notifications, then each new one, until interrupted");
  notifications_watch->add_option("staff", staff, "The staff id (or staff/{id})")->required();
  notifications_watch->add_option("--after", after, "Resume after this cursor (a line's last)");
  CLI::App* survey_list = survey->add_subcommand("list", "A customer's surveys, in id order");
  survey_list->add_option("customer", id, "The customer id (or customers/{id})")->required();
  survey_list->add_option("--state", survey_state, "AWAITING_ANSWER, ANSWERED or EXPIRED");

  std::string data_dir;
  std::string from;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Offline: check every store of a data directory (write-ahead logs and table checksums)");
  verify->add_option("--data-dir", data_dir, "The server's --data-dir")->required();
  CLI::App* restore = app.add_subcommand(
      "restore", "Offline: make a new data directory from a backup (BackupService)");
  restore->add_option("--from", from, "The backup's directory (Backup.path)")->required();
  restore->add_option("--data-dir", data_dir, "The data directory to create (must not exist)")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (*verify) return crm::crmctl::Verify(data_dir);
  if (*restore) return crm::crmctl::Restore(from, data_dir);

  connection.use_tls = use_tls || !connection.tls.ca_file.empty() ||
                       !connection.tls.cert_file.empty() || !connection.tls.key_file.empty() ||
                       !connection.tls.server_name.empty();
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "crmctl: cannot read --token-file %s\n", token_file.c_str());
      return 2;
    }
    connection.token = std::string(absl::StripAsciiWhitespace(text.str()));
  } else if (const char* token = std::getenv("CRM_TOKEN")) {
    connection.token = std::string(absl::StripAsciiWhitespace(token));
  }
  connection.json = output == "json";
  connection.timeout = absl::Seconds(timeout_seconds);
  crm::crmctl::Online online(connection);
  if (*status) return online.Status();
  if (*rebuild) {
    if (fold.empty() && store.empty()) {
      std::fprintf(stderr, "crmctl rebuild: give --fold NAME or --store NAME\n");
      return kExitUsage;
    }
    return online.Rebuild(fold, store, wait);
  }
  if (*dead_list) return online.ListDeadLetters(fold, limit);
  if (*dead_show) return online.ShowDeadLetter(name);
  if (*dead_retry) return online.RetryDeadLetter(name);
  if (*events) {
    for (auto [text, out, flag] : {std::tuple(&since, &events_filter.since, "--since"),
                                   std::tuple(&until, &events_filter.until, "--until")}) {
      if (text->empty()) continue;
      *out = ParseTimeFlag(*text);
      if (!out->has_value()) {
        std::fprintf(stderr,
                     "crmctl events: %s %s: give an RFC 3339 time (2026-12-04T10:00:00Z) or a "
                     "duration before now (15m)\n",
                     flag, text->c_str());
        return kExitUsage;
      }
    }
    events_filter.poll_interval = absl::Seconds(poll_seconds);
    return online.Events(events_filter);
  }
  if (*audit) {
    for (auto [text, out, flag] : {std::tuple(&since, &audit_filter.since, "--since"),
                                   std::tuple(&until, &audit_filter.until, "--until")}) {
      if (text->empty()) continue;
      *out = ParseTimeFlag(*text);
      if (!out->has_value()) {
        std::fprintf(stderr,
                     "crmctl audit: %s %s: give an RFC 3339 time (2026-12-04T10:00:00Z) or a "
                     "duration before now (15m)\n",
                     flag, text->c_str());
        return kExitUsage;
      }
    }
    audit_filter.poll_interval = absl::Seconds(poll_seconds);
    return online.Audit(audit_filter);
  }
  if (*customer_get) return online.GetCustomer(id);
  if (*customer_merge) {
    return online.MergeCustomers(survivor, merged, merge_dry_run, merge_request_id);
  }
  if (*customer_archive) return online.ArchiveCustomer(id, true, archive_reason);
  if (*customer_unarchive) return online.ArchiveCustomer(id, false, archive_reason);
  if (*customer_refund) {
    return online.RefundPurchase(id, refund_purchase_id, refund_amount, refund_currency,
                                 refund_reason, refund_request_id);
  }
  if (*customer_list) return online.ListCustomers(customer_filter);
  if (*customer_search) return online.SearchCustomers(search_filter);
  if (*customer_find) {
    if (!email.empty() + !phone.empty() + !external_id.empty() + !social.empty() +
            !contact_email.empty() + !contact_phone.empty() !=
        1) {
      std::fprintf(stderr,
                   "crmctl customer find: give one of --email, --phone, --external-id, --social, "
                   "--contact-email and --contact-phone\n");
      return kExitUsage;
    }
    crm::v1::FindCustomersRequest find;
    find.set_email(email);
    find.set_phone(phone);
    find.set_external_id(external_id);
    find.set_contact_email(contact_email);
    find.set_contact_phone(contact_phone);
    if (!social.empty() && !crm::crmctl::ParseSocialId(social, find.mutable_social_id())) {
      std::fprintf(stderr, "crmctl customer find: --social takes NETWORK:HANDLE, not \"%s\"\n",
                   social.c_str());
      return kExitUsage;
    }
    return online.FindCustomers(find);
  }
  if (*import_customers) return online.ImportCustomers(import_file, import_request_id);
  if (*complaint_get) return online.GetComplaint(name);
  if (*complaint_history) return online.ComplaintHistory(name);
  if (*survey_get) return online.GetSurvey(name);
  if (*survey_list) return online.ListSurveys(id, survey_state);
  if (*notifications_list) return online.ListNotifications(staff);
  if (*notifications_watch) return online.WatchNotifications(staff, after);
  return kExitUsage;
}
