"""A command load for crash tests and the soak: client threads issuing commands, every answer
recorded, and the checks that nothing acknowledged was lost or applied twice (used by
test_crash.py, test_kafka_*.py and soak.py).

Each client thread owns the customers it registered (no other thread writes them), so its idea of
their state (lifecycle stage, complaint status, open follow-ups) is exact and every command it
generates is valid: `Commands` makes them, `Ack` records an answer, `verify_acks` checks the
answers against the events in the views."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from google.protobuf import field_mask_pb2

import orgtest
from crmtest import (command_stub, covering_token, cpb, describe_snapshot_diff, grpc, history,
                     list_all, merge_tokens, new_request_id, purchase, query_stub, register,
                     snapshot, spb)
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402

THREADS = 4


@dataclass
class Ack:
    name: str  # the resource answered: a customer, a complaint or an interaction
    version: int
    token: str
    request_id: str
    method: str
    request: object
    appended: int = 1  # events the command appended (appended_event_count)
    resource: object = None  # the resource as answered


def customer_of(name: str) -> str:
    """"customers/x" of a customer, complaint or interaction name."""
    return "/".join(name.split("/")[:2])


# ---------------------------------------------------------------------------------------------
# Commands and their services.


@dataclass
class Command:
    service: str  # "customer", "interaction" or "complaint"
    method: str
    request: object
    target: dict | None = None  # the owned resource the command changes


def command_stubs(server) -> dict:
    """The command stubs of `server` by service (on its channel as it is now)."""
    return {"customer": server.command,
            "interaction": command_stub(server, isgrpc.InteractionCommandServiceStub),
            "complaint": command_stub(server, ksgrpc.ComplaintCommandServiceStub)}


def answered_resource(service: str, resp):
    return getattr(resp, {"customer": "customer", "interaction": "interaction",
                          "complaint": "complaint"}[service])


SERVICE_OF_METHOD = {
    **{m: "customer" for m in ("RegisterCustomer", "UpdateCustomer", "ChangeLifecycleStage",
                               "TagCustomer", "RecordPurchase", "AssignOwner", "UntagCustomer")},
    **{m: "interaction" for m in ("LogInteraction", "CompleteFollowUp")},
    **{m: "complaint" for m in ("FileComplaint", "AcknowledgeComplaint", "AssignComplaint",
                                "StartInvestigation", "ResolveComplaint", "RecordFollowUpVisit",
                                "CloseComplaint", "ReopenComplaint", "EscalateComplaint")},
}

# The next step of a complaint's flow from each status (the soak walks complaints through it).
_FLOW = {kpb.FILED: "AcknowledgeComplaint", kpb.ACKNOWLEDGED: "AssignComplaint",
         kpb.ASSIGNED: "StartInvestigation", kpb.INVESTIGATING: "ResolveComplaint",
         kpb.RESOLVED: "RecordFollowUpVisit", kpb.REOPENED: "AssignComplaint"}


class Commands:
    """The commands of one client thread, on the customers it owns: each valid when sent, each
    appending one event. `mixed` adds interactions (with follow-ups) and complaints walked
    through their flow to the customer commands. Not thread-safe (one per thread)."""

    def __init__(self, rng: random.Random, prefix: str, mixed: bool = False):
        self.rng = rng
        self.prefix = prefix
        self.mixed = mixed
        self.n = 0
        self.customers: list[dict] = []  # {"name", "stage", "complaints": [...], "follow_ups"}

    def next(self) -> Command:
        rng = self.rng
        self.n += 1
        rid = new_request_id()
        if not self.customers or rng.random() < (0.12 if self.mixed else 0.3):
            cid = f"{self.prefix}-{self.n}"
            return Command("customer", "RegisterCustomer", spb.RegisterCustomerRequest(
                customer_id=cid, request_id=rid,
                customer=cpb.Customer(display_name=f"Load {cid}", kind=cpb.COMPANY,
                                      emails=[f"{cid}@example.com"])))
        target = rng.choice(self.customers)
        name = target["name"]
        r = rng.random()
        if self.mixed and r < 0.25:
            return self._interaction(target, rid)
        if self.mixed and r < 0.55:
            return self._complaint(target, rid)
        op = rng.randrange(4)
        if op == 0:
            return Command("customer", "UpdateCustomer", spb.UpdateCustomerRequest(
                customer=cpb.Customer(name=name, display_name=f"Name {rid}"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]), request_id=rid),
                target)
        if op == 1 and target["stage"] < cpb.LOYAL:
            return Command("customer", "ChangeLifecycleStage", spb.ChangeLifecycleStageRequest(
                name=name, lifecycle_stage=target["stage"] + 1, request_id=rid), target)
        if op == 2:
            return Command("customer", "RecordPurchase", spb.RecordPurchaseRequest(
                name=name, request_id=rid,
                purchase=purchase(rng.randrange(1, 10**6), product="load")), target)
        return Command("customer", "TagCustomer",
                       spb.TagCustomerRequest(name=name, tag=f"t{self.n}", request_id=rid),
                       target)

    def _interaction(self, customer: dict, rid: str) -> Command:
        rng = self.rng
        if customer["follow_ups"] and rng.random() < 0.3:
            name = rng.choice(customer["follow_ups"])
            return Command("interaction", "CompleteFollowUp", ispb.CompleteFollowUpRequest(
                name=name, note="done", request_id=rid), {"name": name, "customer": customer})
        i = ipb.Interaction(channel=rng.choice([ipb.PHONE, ipb.EMAIL, ipb.ONLINE_CHAT]),
                            direction=rng.choice([ipb.INBOUND, ipb.OUTBOUND]),
                            staff_id=rng.choice([orgtest.AGENT, orgtest.AGENT2]),
                            summary=f"talked {self.n}", outcome="fine")
        i.occurred_at.GetCurrentTime()
        i.occurred_at.seconds -= 7200
        if rng.random() < 0.5:  # a follow-up, overdue already or due tomorrow
            i.follow_up_due_time.GetCurrentTime()
            i.follow_up_due_time.seconds += rng.choice([-3600, 86400])
        return Command("interaction", "LogInteraction", ispb.LogInteractionRequest(
            parent=customer["name"], interaction=i, request_id=rid), {"customer": customer})

    def _complaint(self, customer: dict, rid: str) -> Command:
        rng = self.rng
        open_ = [c for c in customer["complaints"] if c["status"] != kpb.CLOSED]
        if not open_ or rng.random() < 0.15:
            return Command("complaint", "FileComplaint", kspb.FileComplaintRequest(
                parent=customer["name"], request_id=rid,
                complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                        severity=rng.choice([kpb.GENERAL, kpb.MINOR]),
                                        description=f"it broke ({self.n})")),
                {"customer": customer})
        c = rng.choice(open_)
        name, status = c["name"], c["status"]
        if (status in (kpb.ASSIGNED, kpb.INVESTIGATING) and c["escalation_level"] == 0
                and rng.random() < 0.2):
            return Command("complaint", "EscalateComplaint", kspb.EscalateComplaintRequest(
                name=name, request_id=rid, reason="slow"), c)
        method = _FLOW.get(status)
        if method is None:  # FOLLOWED_UP: reopened only if the customer was not satisfied
            method = ("ReopenComplaint" if not c["satisfied"] and rng.random() < 0.5
                      else "CloseComplaint")
        # Assigning the current assignee again would change nothing: hand it to the other agent.
        other = orgtest.AGENT2 if c["assignee"] == orgtest.AGENT else orgtest.AGENT
        fields = {"AcknowledgeComplaint": {"responder": orgtest.AGENT},
                  "AssignComplaint": {"assignee": other},
                  "ResolveComplaint": {"resolution": "replaced",
                                       "root_cause": rng.choice([1, 2, 3, 4])},
                  "RecordFollowUpVisit": {"visit": kpb.FollowUpVisit(
                      satisfied=rng.random() < 0.7, csat=rng.randrange(1, 6), comment="ok")},
                  "ReopenComplaint": {"reason": "not fixed"}}.get(method, {})
        request = getattr(kspb, method + "Request")(name=name, request_id=rid, **fields)
        return Command("complaint", method, request, c)

    def answered(self, cmd: Command, resp) -> Ack:
        """Updates what the thread knows from the command's answer; returns its Ack."""
        resource = answered_resource(cmd.service, resp)
        if cmd.method == "RegisterCustomer":
            self.customers.append({"name": resource.name, "stage": cpb.POTENTIAL,
                                   "complaints": [], "follow_ups": []})
        elif cmd.method == "ChangeLifecycleStage":
            cmd.target["stage"] += 1
        elif cmd.method == "LogInteraction":
            if resource.HasField("follow_up_due_time"):
                cmd.target["customer"]["follow_ups"].append(resource.name)
        elif cmd.method == "CompleteFollowUp":
            cmd.target["customer"]["follow_ups"].remove(cmd.target["name"])
        elif cmd.method == "FileComplaint":
            cmd.target["customer"]["complaints"].append({"name": resource.name})
        if cmd.service == "complaint":
            c = cmd.target if cmd.method != "FileComplaint" else \
                cmd.target["customer"]["complaints"][-1]
            c.update(status=resource.status, escalation_level=resource.escalation_level,
                     assignee=resource.assignee.staff_id, satisfied=resource.follow_up.satisfied)
        return Ack(resource.name, resource.version, resp.consistency_token,
                   cmd.request.request_id, cmd.method, cmd.request, resp.appended_event_count,
                   resource)


class Load:
    """Client threads issuing customer commands that each append one event, recording each
    answer (the crash tests: a failure is an error unless the server is being stopped)."""

    def __init__(self, server, seed: int, prefix: str, threads: int = THREADS,
                 pause_s: float = 0.0):
        self.server = server
        self.seed = seed
        self.prefix = prefix
        self.pause_s = pause_s  # between two commands of a thread
        self.stopping = threading.Event()  # set just before the server is stopped or killed
        self.lock = threading.Lock()
        self.acks: list[Ack] = []
        self.errors: list[str] = []  # failures while the server was meant to be up
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout_s: float = 60.0):
        deadline = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
            assert not t.is_alive(), "a client thread did not finish"

    def _run(self, thread_no: int):
        rng = random.Random(self.seed * 100 + thread_no)
        stubs = command_stubs(self.server)  # keep them: the server object drops its channel
        commands = Commands(rng, f"{self.prefix}-t{thread_no}")
        while not self.stopping.is_set():
            if self.pause_s:
                time.sleep(rng.uniform(0, 2 * self.pause_s))
            cmd = commands.next()
            try:
                resp = getattr(stubs[cmd.service], cmd.method)(cmd.request, timeout=10)
            except grpc.RpcError as err:
                if self.stopping.is_set():
                    return
                with self.lock:
                    self.errors.append(f"{cmd.method} {cmd.request}: {err.code()} {err.details()}")
                continue
            if resp.appended_event_count != 1:
                with self.lock:
                    self.errors.append(f"{cmd.method} appended {resp.appended_event_count}: "
                                       f"{cmd.request}")
            ack = commands.answered(cmd, resp)
            with self.lock:
                self.acks.append(ack)


# ---------------------------------------------------------------------------------------------
# Checks.


def _events_of_customer(server, customer: str, token: str, complaints: set[str]) -> list:
    """Every event of a customer's stream the views show: its own, its complaints' and its
    interactions' (from the timeline); checks each aggregate's versions run 1..n."""
    events = history(server, customer, token)
    assert [e.aggregate_version for e in events] == list(range(1, len(events) + 1)), customer
    cq = query_stub(server, kqgrpc.ComplaintQueryServiceStub)
    for name in sorted(complaints):
        mine, page = [], ""
        while True:
            resp = cq.GetComplaintHistory(kqpb.GetComplaintHistoryRequest(
                name=name, consistency_token=token, page_size=1000, page_token=page))
            mine.extend(resp.events)
            page = resp.next_page_token
            if not page:
                break
        assert [e.aggregate_version for e in mine] == list(range(1, len(mine) + 1)), name
        events += mine
    iq = query_stub(server, isgrpc.InteractionQueryServiceStub)
    page = ""
    while True:
        resp = iq.GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
            parent=customer, consistency_token=token, page_size=1000, page_token=page,
            kinds=[ispb.TIMELINE_INTERACTION, ispb.TIMELINE_FOLLOW_UP]))
        events += [e.event for e in resp.entries]
        page = resp.next_page_token
        if not page:
            return events


def verify_acks(server, acks: list[Ack], rng: random.Random, retries: int = 25,
                workers: int = 1) -> None:
    """Every acknowledged command is in the views exactly once (its request id on as many events
    as it appended; for a customer command, on the event at the answered version), and retries
    of a sample of them (with their request ids) answer as the first time. Holds while other
    commands go on: it reads with the acknowledgements' own tokens, and histories only grow.
    `workers` threads check customers in parallel."""
    by_customer: dict[str, list[Ack]] = defaultdict(list)
    for a in acks:
        by_customer[customer_of(a.name)].append(a)

    def check(item) -> None:
        customer, mine = item
        token = merge_tokens(*(a.token for a in mine))
        complaints = {a.name for a in mine if SERVICE_OF_METHOD[a.method] == "complaint"}
        events = _events_of_customer(server, customer, token, complaints)
        count = Counter(e.request_id for e in events)
        own = {e.aggregate_version: e for e in events if e.aggregate in ("", customer)}
        for a in mine:
            n = count.get(a.request_id, 0)
            assert n == a.appended, (
                f"{a.name}: {a.method} {a.request_id} acknowledged with {a.appended} events, "
                f"{n} in the views ({'lost' if n < a.appended else 'duplicated'})")
            if SERVICE_OF_METHOD[a.method] == "customer" and a.appended:
                e = own.get(a.version)
                assert e is not None, f"{a.name}: acked version {a.version} ({a.method}) missing"
                assert e.request_id == a.request_id, (
                    f"{a.name} v{a.version}: event request_id {e.request_id!r}, acked "
                    f"{a.request_id!r}")

    _map(check, by_customer.items(), workers)
    # Retries of acknowledged commands answer as the first time, after a crash too.
    stubs = command_stubs(server)
    for a in rng.sample(acks, min(retries, len(acks))):
        service = SERVICE_OF_METHOD[a.method]
        again = getattr(stubs[service], a.method)(a.request)
        got = answered_resource(service, again)
        assert (got.name, got.version, again.consistency_token) == (
            a.name, a.version, a.token), f"retry of {a.method} {a.request_id} answered differently"


def _map(fn, items, workers: int) -> None:
    """fn over items, in `workers` threads; the first failure is raised."""
    if workers <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(fn, list(items)):
            pass


def get_resource(server, name: str, token: str):
    """A customer, complaint or interaction from the views, by name."""
    parts = name.split("/")
    if len(parts) == 2:
        return server.query.GetCustomer(spb.GetCustomerRequest(name=name,
                                                               consistency_token=token))
    if parts[2] == "complaints":
        return query_stub(server, kqgrpc.ComplaintQueryServiceStub).GetComplaint(
            kqpb.GetComplaintRequest(name=name, consistency_token=token))
    return query_stub(server, isgrpc.InteractionQueryServiceStub).GetInteraction(
        ispb.GetInteractionRequest(name=name, consistency_token=token))


def verify_views_match_answers(server, acks: list[Ack], quiet: bool = True,
                               workers: int = 1) -> int:
    """Each resource's last answer against the views read with that answer's token: the views
    are at a later version (other commands went on meanwhile) or equal to the answer field by
    field; with `quiet` (no command in flight) they must be equal. Returns resources checked."""
    last: dict[str, Ack] = {}
    for a in acks:
        if a.resource is not None and (a.name not in last or a.version > last[a.name].version):
            last[a.name] = a
    def check(item) -> None:
        name, a = item
        got = get_resource(server, name, a.token)
        if got.version > a.version and not quiet:
            return
        assert got == a.resource, (f"{name}: the views differ from the last answer "
                                   f"({a.method}):\nanswer:\n{a.resource}\nview:\n{got}")

    _map(check, last.items(), workers)
    return len(last)


def verify_streams(server, token: str) -> None:
    for c in list_all(server, page_size=1000, consistency_token=token):
        events = history(server, c.name, token)
        assert c.version == len(events), f"{c.name}: version {c.version}, {len(events)} events"
        assert [e.aggregate_version for e in events] == list(range(1, c.version + 1)), c.name


def marker(server, label: str) -> str:
    """A write after every earlier one: its token makes a query wait for all of them (on Kafka,
    together with the end of every partition)."""
    return covering_token(server, register(server, customer_id=f"marker-{label}").consistency_token)


def assert_views_equal_rebuild(server, label: str) -> None:
    token = marker(server, label)
    before = snapshot(server, token)
    server.stop()
    server.start("--rebuild")
    after = snapshot(server, token)
    assert before == after, "views differ from a rebuild:\n" + describe_snapshot_diff(
        before, after)
