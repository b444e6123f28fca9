"""A command load for crash tests: client threads issuing commands, every answer recorded, and
the checks that nothing acknowledged was lost (used by test_crash.py and test_kafka_*.py)."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from google.protobuf import field_mask_pb2

from crmtest import (covering_token, cpb, describe_snapshot_diff, grpc, history, list_all,
                     new_request_id, purchase, register, snapshot, spb)

THREADS = 4


@dataclass
class Ack:
    name: str
    version: int
    token: str
    request_id: str
    method: str
    request: object


class Load:
    """Client threads issuing commands that each append one event, recording each answer."""

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
        cmd = self.server.command  # keep the stub: the server object drops it when stopped
        mine: list[dict] = []  # {"name", "stage"}
        n = 0
        while not self.stopping.is_set():
            if self.pause_s:
                time.sleep(rng.uniform(0, 2 * self.pause_s))
            n += 1
            rid = new_request_id()
            if not mine or rng.random() < 0.3:
                cid = f"{self.prefix}-t{thread_no}-{n}"
                method = "RegisterCustomer"
                req = spb.RegisterCustomerRequest(
                    customer_id=cid, request_id=rid,
                    customer=cpb.Customer(display_name=f"Load {cid}", kind=cpb.COMPANY,
                                          emails=[f"{cid}@example.com"]))
                target = None
            else:
                target = rng.choice(mine)
                name = target["name"]
                op = rng.randrange(4)
                if op == 0:
                    method = "UpdateCustomer"
                    req = spb.UpdateCustomerRequest(
                        customer=cpb.Customer(name=name, display_name=f"Name {rid}"),
                        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                        request_id=rid)
                elif op == 1 and target["stage"] < cpb.LOYAL:
                    method = "ChangeLifecycleStage"
                    req = spb.ChangeLifecycleStageRequest(
                        name=name, lifecycle_stage=target["stage"] + 1, request_id=rid)
                elif op == 2:
                    method = "RecordPurchase"
                    req = spb.RecordPurchaseRequest(
                        name=name, request_id=rid,
                        purchase=purchase(rng.randrange(1, 10**6), product="load"))
                else:
                    method = "TagCustomer"
                    req = spb.TagCustomerRequest(name=name, tag=f"t{n}", request_id=rid)
            try:
                resp = getattr(cmd, method)(req, timeout=10)
            except grpc.RpcError as err:
                if self.stopping.is_set():
                    return
                with self.lock:
                    self.errors.append(f"{method} {req}: {err.code()} {err.details()}")
                continue
            if resp.appended_event_count != 1:
                with self.lock:
                    self.errors.append(f"{method} appended {resp.appended_event_count}: {req}")
            if method == "RegisterCustomer":
                mine.append({"name": resp.customer.name, "stage": cpb.POTENTIAL})
            elif method == "ChangeLifecycleStage":
                target["stage"] += 1
            with self.lock:
                self.acks.append(Ack(resp.customer.name, resp.customer.version,
                                     resp.consistency_token, rid, method, req))


def verify_acks(server, acks: list[Ack], rng: random.Random) -> None:
    by_customer: dict[str, list[Ack]] = defaultdict(list)
    for a in acks:
        by_customer[a.name].append(a)
    for name, mine in by_customer.items():
        # One thread owns each customer and waits for each answer: the last ack is the latest.
        last = max(mine, key=lambda a: a.version)
        got = server.query.GetCustomer(spb.GetCustomerRequest(
            name=name, consistency_token=last.token))
        assert got.version >= last.version, f"{name}: version {got.version} < acked {last.version}"
        events = history(server, name, last.token)
        assert [e.aggregate_version for e in events] == list(range(1, len(events) + 1)), name
        by_version = {e.aggregate_version: e for e in events}
        for a in mine:
            e = by_version.get(a.version)
            assert e is not None, f"{name}: acked version {a.version} ({a.method}) missing"
            assert e.request_id == a.request_id, (
                f"{name} v{a.version}: event request_id {e.request_id!r}, acked {a.request_id!r}")
    # Retries of acknowledged commands answer as the first time, after the crash too.
    for a in rng.sample(acks, min(25, len(acks))):
        again = getattr(server.command, a.method)(a.request)
        assert (again.customer.name, again.customer.version, again.consistency_token) == (
            a.name, a.version, a.token), f"retry of {a.method} {a.request_id} answered differently"


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
