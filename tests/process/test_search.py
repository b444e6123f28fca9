"""SearchCustomers (proto/crm/v1/README.md, "Searching customers") on both engines: display-name
prefixes in Chinese and Latin (case and full width folded), each filter and combinations of them,
paging through with small pages, customers moving between answers when their name or region
changes, an agent seeing only the customers they hold, bad input, and the same answers after the
views are rebuilt from the log (--rebuild).

One server per engine, with authentication on (the tests' own identity provider, as
test_auth.py): an admin writes and reads everything; the agent is a staff token of a customer
representative. The expected answers are computed here from the customers as registered, by the
rules the README states, not from the server's code.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import pytest

import crmtest
from crmtest import assert_violation, cpb, expect_error, grpc, new_request_id, spb
from test_auth import Caller, IdentityProvider, _auth_args

from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

AGENT, MATE = "s-agent", "s-mate"

# (id, display name, kind, region, industry, owner, tags, purchase amount or 0, stages to move to)
CUSTOMERS = [
    ("huawei", "华为技术", cpb.COMPANY, "华南", "Telecom", AGENT, ["vip"], 60_000_000, []),
    ("hualian", "华联超市", cpb.COMPANY, "华东", "Retail", MATE, [], 1_000, []),
    ("huaxia", "华夏银行", cpb.COMPANY, "华北", "Banking", AGENT, ["bank"], 0,
     [cpb.FIRST_CONTACT]),
    ("alibaba", "阿里巴巴 Group", cpb.COMPANY, "East China", "Retail", MATE, ["vip"], 0, []),
    ("acme-t", "ACME Trading", cpb.COMPANY, "East China", "Retail", AGENT, [], 2_000, []),
    ("acme-f", "ａｃｍｅ Foods", cpb.COMPANY, "east  china", "Food", "", ["vip"], 0, []),
    ("acme-p", "Acme person", cpb.PERSON, "North", "Retail", AGENT, [], 0,
     [cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED]),
    ("ada", "Ada Lovelace", cpb.PERSON, "North", "", MATE, ["vip", "bank"], 0, []),
    ("zhang", "张伟", cpb.PERSON, "华东", "Retail", AGENT, [], 0, []),
    ("zeta", "Zeta", cpb.PERSON, "", "", "", [], 0, []),
    ("ecole", "École Nord", cpb.COMPANY, "North", "Education", "", [], 0, []),
]
# More customers, for paging: "Page 00" .. "Page 23", some owned by the agent.
PAGED = [(f"page-{i:02d}", f"Page {i:02d}", cpb.PERSON, "Paging", "Retail",
          AGENT if i % 3 == 0 else "", [], 0, []) for i in range(24)]


def fold(text: str) -> str:
    """The README's fold, written here from its words: full-width ASCII forms to ASCII, Latin
    capitals (A-Z, Latin-1) to lower case, white space runs to one space, trimmed."""
    out = []
    for ch in text:
        cp = ord(ch)
        if 0xFF01 <= cp <= 0xFF5E:
            ch = chr(cp - 0xFF01 + 0x21)
        if ("A" <= ch <= "Z") or (0xC0 <= ord(ch) <= 0xDE and ord(ch) != 0xD7):
            ch = ch.lower()
        out.append(ch)
    return " ".join("".join(out).replace("\u3000", " ").split())


@dataclass
class Row:
    cid: str
    name: str
    kind: int
    region: str
    industry: str
    owner: str
    tags: list[str] = field(default_factory=list)
    tier: int = cpb.POTENTIAL_VALUE
    stage: int = cpb.POTENTIAL


class World:
    """The server, its callers and the customers as the test expects them."""

    def __init__(self, server, engine: str, idp: IdentityProvider):
        self.server = server
        self.engine = engine
        self.idp = idp
        self.rows: dict[str, Row] = {}
        self.token = ""
        self.connect()

    def connect(self) -> None:
        self.admin = Caller(self.server, self.idp.token("rsa-1", "admin", scope="crm.admin"))
        self.agent = Caller(self.server, self.idp.token("rsa-1", "agent", crm_staff_id=AGENT,
                                                        scope=None))

    def write(self, resp) -> None:
        self.token = crmtest.merge_tokens(self.token, resp.consistency_token) \
            if self.token else resp.consistency_token

    def expected(self, pred, reach: str | None = None) -> list[str]:
        rows = [r for r in self.rows.values() if pred(r) and (reach is None or r.owner == reach)]
        rows.sort(key=lambda r: (fold(r.name).encode(), r.cid))
        return [f"customers/{r.cid}" for r in rows]

    def search(self, caller=None, page_size: int = 1000, **request) -> list[str]:
        """Every customer the search answers, following the pages; asserts none repeats."""
        caller = caller or self.admin
        names: list[str] = []
        token = ""
        pages = 0
        while True:
            resp = caller.query.SearchCustomers(spb.SearchCustomersRequest(
                page_size=page_size, page_token=token, consistency_token=self.token, **request))
            assert len(resp.customers) <= page_size
            names += [c.name for c in resp.customers]
            token = resp.next_page_token
            pages += 1
            if not token:
                break
            assert pages < 1000, "page tokens never end"
        assert len(names) == len(set(names)), f"a customer on two pages: {names}"
        return names


@pytest.fixture(scope="module")
def world(module_auth_server, engine):
    server, idp = module_auth_server
    w = World(server, engine, idp)
    org = osgrpc.OrgServiceStub(w.admin.channel)
    org.CreateDepartment(ospb.CreateDepartmentRequest(
        department_id="d1", request_id=new_request_id(),
        department=opb.Department(display_name="Sales", function=opb.SALES)))
    org.CreateTeam(ospb.CreateTeamRequest(
        team_id="t1", request_id=new_request_id(),
        team=opb.Team(display_name="East", department="departments/d1")))
    for sid in (AGENT, MATE):
        w.write(org.AddStaff(ospb.AddStaffRequest(
            staff_id=sid, request_id=new_request_id(),
            staff=opb.Staff(display_name=sid, role=opb.CUSTOMER_REPRESENTATIVE,
                            level=opb.FRONT_LINE, department="departments/d1",
                            team="teams/t1"))))
    cmd = w.admin.command
    for cid, name, kind, region, industry, owner, tags, amount, stages in CUSTOMERS + PAGED:
        resp = crmtest.register(w.admin, customer_id=cid, display_name=name, kind=kind,
                                region=region, industry=industry)
        w.write(resp)
        row = Row(cid, name, kind, region, industry, owner, list(tags))
        cname = resp.customer.name
        if owner:
            w.write(cmd.AssignOwner(spb.AssignOwnerRequest(name=cname, owner=owner,
                                                           request_id=new_request_id())))
        for tag in tags:
            w.write(cmd.TagCustomer(spb.TagCustomerRequest(name=cname, tag=tag,
                                                           request_id=new_request_id())))
        for stage in stages:
            w.write(cmd.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
                name=cname, lifecycle_stage=stage, request_id=new_request_id())))
            row.stage = stage
        if amount:
            resp = cmd.RecordPurchase(spb.RecordPurchaseRequest(
                name=cname, request_id=new_request_id(), purchase=crmtest.purchase(amount)))
            w.write(resp)
            row.tier = resp.customer.value_tier
        w.rows[cid] = row
    yield w


def test_name_prefixes_in_chinese_and_latin(world):
    w = world
    assert w.search(query="华") == ["customers/huawei", "customers/huaxia", "customers/hualian"] \
        == w.expected(lambda r: r.name.startswith("华")), "code point order: 为 < 夏 < 联"
    assert w.search(query="华为") == ["customers/huawei"]
    assert w.search(query="华为技术") == ["customers/huawei"]
    assert w.search(query="华为技术有限") == []
    assert w.search(query="阿里") == ["customers/alibaba"]
    assert w.search(query="阿里巴巴 g") == ["customers/alibaba"], "Latin after Chinese folds too"
    assert w.search(query="张") == ["customers/zhang"]
    acme = w.expected(lambda r: fold(r.name).startswith("acme"))
    assert acme == ["customers/acme-f", "customers/acme-p", "customers/acme-t"]
    for query in ("acme", "ACME", "Acme", "ａｃｍｅ", "ＡＣＭＥ", "  acme", "AcMe"):
        assert w.search(query=query) == acme, query
    assert w.search(query="acme t") == ["customers/acme-t"]
    assert w.search(query="acme  trading ") == ["customers/acme-t"], "white space folded"
    assert w.search(query="ÉCOLE") == w.search(query="école") == ["customers/ecole"]
    assert w.search(query="ecole") == [], "accents are not removed"
    assert w.search(query="no such name") == []
    everyone = w.expected(lambda r: True)
    assert w.search() == everyone
    assert w.search(query="   ") == everyone, "a blank query is no query"


def test_each_filter(world):
    w = world
    cases = [
        ({"region": "East China"}, lambda r: fold(r.region) == "east china"),
        ({"region": "EAST CHINA"}, lambda r: fold(r.region) == "east china"),
        ({"region": "华东"}, lambda r: r.region == "华东"),
        ({"region": "east"}, lambda r: False),
        ({"industry": "retail"}, lambda r: r.industry == "Retail"),
        ({"industry": "Telecom"}, lambda r: r.industry == "Telecom"),
        ({"kind": cpb.PERSON}, lambda r: r.kind == cpb.PERSON),
        ({"kind": cpb.COMPANY}, lambda r: r.kind == cpb.COMPANY),
        ({"value_tier": cpb.HIGH_VALUE}, lambda r: r.tier == cpb.HIGH_VALUE),
        ({"value_tier": cpb.ORDINARY}, lambda r: r.tier == cpb.ORDINARY),
        ({"value_tier": cpb.POTENTIAL_VALUE}, lambda r: r.tier == cpb.POTENTIAL_VALUE),
        ({"lifecycle_stage": cpb.FIRST_CONTACT}, lambda r: r.stage == cpb.FIRST_CONTACT),
        ({"lifecycle_stage": cpb.NEED_CONFIRMED}, lambda r: r.stage == cpb.NEED_CONFIRMED),
        ({"owner": AGENT}, lambda r: r.owner == AGENT),
        ({"owner": MATE}, lambda r: r.owner == MATE),
        ({"owner": "nobody"}, lambda r: False),
        ({"tag": "vip"}, lambda r: "vip" in r.tags),
        ({"tag": "VIP"}, lambda r: "vip" in r.tags),
        ({"tag": "bank"}, lambda r: "bank" in r.tags),
    ]
    for request, pred in cases:
        want = w.expected(pred)
        assert w.search(**request) == want, request
    assert w.expected(lambda r: r.tier == cpb.HIGH_VALUE) == ["customers/huawei"]
    assert len(w.expected(lambda r: r.kind == cpb.PERSON)) > 20


def test_combined_filters(world):
    w = world
    cases = [
        ({"query": "华", "industry": "retail"}, lambda r: r.cid == "hualian"),
        ({"query": "acme", "region": "east china"},
         lambda r: r.cid in ("acme-f", "acme-t")),
        ({"query": "acme", "region": "east china", "kind": cpb.COMPANY, "owner": AGENT},
         lambda r: r.cid == "acme-t"),
        ({"industry": "Retail", "owner": AGENT},
         lambda r: r.industry == "Retail" and r.owner == AGENT),
        ({"tag": "vip", "kind": cpb.COMPANY},
         lambda r: "vip" in r.tags and r.kind == cpb.COMPANY),
        ({"tag": "vip", "region": "north"}, lambda r: r.cid == "ada"),
        ({"tag": "vip", "value_tier": cpb.HIGH_VALUE}, lambda r: r.cid == "huawei"),
        ({"lifecycle_stage": cpb.FIRST_CONTACT, "owner": AGENT, "tag": "bank"},
         lambda r: r.cid == "huaxia"),
        ({"query": "page 1", "owner": AGENT, "industry": "retail", "region": "paging"},
         lambda r: r.cid in ("page-12", "page-15", "page-18")),
        ({"query": "zeta", "owner": AGENT}, lambda r: False),
    ]
    for request, pred in cases:
        want = w.expected(pred)
        assert want or request.get("query") == "zeta", request
        assert w.search(**request) == want, request


def test_paging_through_with_small_pages(world):
    w = world
    for page_size in (1, 2, 5):
        assert w.search(page_size=page_size) == w.expected(lambda r: True), page_size
        assert w.search(page_size=page_size, query="page") == \
            w.expected(lambda r: r.name.startswith("Page")), page_size
        assert w.search(page_size=page_size, query="page", owner=AGENT) == \
            w.expected(lambda r: r.name.startswith("Page") and r.owner == AGENT), page_size
    # page_size 0 is the default (50): one page holds everything here.
    first = w.admin.query.SearchCustomers(spb.SearchCustomersRequest(consistency_token=w.token))
    assert len(first.customers) == min(50, len(w.rows))
    # A token goes with the request's filters: another query is refused.
    page = w.admin.query.SearchCustomers(spb.SearchCustomersRequest(
        query="page", page_size=2, consistency_token=w.token))
    assert page.next_page_token
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.admin.query.SearchCustomers,
                     spb.SearchCustomersRequest(query="pag", page_size=2,
                                                page_token=page.next_page_token))
    assert_violation(d, "page_token")
    # ... and it is not a ListCustomers token, nor the other way round.
    listed = w.admin.query.ListCustomers(spb.ListCustomersRequest(page_size=1))
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.admin.query.SearchCustomers,
                     spb.SearchCustomersRequest(page_token=listed.next_page_token))
    assert_violation(d, "page_token")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.admin.query.ListCustomers,
                     spb.ListCustomersRequest(page_token=page.next_page_token))
    assert_violation(d, "page_token")


def test_an_agent_sees_only_the_customers_they_hold(world):
    w = world
    for request in ({}, {"query": "华"}, {"query": "acme"}, {"industry": "retail"},
                    {"tag": "vip"}, {"owner": MATE}, {"query": "page"}):
        for page_size in (1, 3, 1000):
            got = w.search(caller=w.agent, page_size=page_size, **request)
            want = [n for n in w.search(**request)
                    if w.rows[crmtest.customer_id_of(n)].owner == AGENT]
            assert got == want, (request, page_size)
    assert w.search(caller=w.agent, owner=MATE) == []
    assert w.search(caller=w.agent, query="华") == ["customers/huawei", "customers/huaxia"]


@pytest.mark.parametrize("request_fields, bad_field", [
    ({"page_token": "not a token"}, "page_token"),
    ({"page_token": "bm90IGEgdG9rZW4"}, "page_token"),
    ({"page_size": -1}, "page_size"),
    ({"kind": 99}, "kind"),
    ({"lifecycle_stage": 99}, "lifecycle_stage"),
    ({"value_tier": 42}, "value_tier"),
    ({"owner": "no spaces allowed"}, "owner"),
    ({"tag": "bad tag!"}, "tag"),
    ({"query": "x" * 201}, "query"),
    ({"query": "bad\x01control"}, "query"),
    ({"region": "r" * 101}, "region"),
    ({"industry": "i" * 101}, "industry"),
])
def test_bad_input_is_invalid_argument_naming_the_field(world, request_fields, bad_field):
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, world.admin.query.SearchCustomers,
                     spb.SearchCustomersRequest(**request_fields))
    assert_violation(d, bad_field)


def test_limits_are_inclusive(world):
    w = world
    assert w.search(query="华" * 200) == []
    assert w.search(region="r" * 100) == []
    big = w.admin.query.SearchCustomers(spb.SearchCustomersRequest(page_size=5000))
    assert len(big.customers) == len(w.rows), "page_size above 1000 is capped, not refused"


def test_changes_move_a_customer_between_answers(world):
    w = world
    cmd = w.admin.command
    resp = crmtest.register(w.admin, customer_id="mover", display_name="Mover Ltd",
                            kind=cpb.COMPANY, region="West", industry="Retail")
    w.write(resp)
    w.rows["mover"] = Row("mover", "Mover Ltd", cpb.COMPANY, "West", "Retail", "")
    assert "customers/mover" in w.search(query="mover")
    assert "customers/mover" in w.search(region="west")

    w.write(cmd.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=cpb.Customer(name="customers/mover", display_name="华润万家", region="华南"),
        update_mask={"paths": ["display_name", "region"]}, request_id=new_request_id())))
    w.rows["mover"].name, w.rows["mover"].region = "华润万家", "华南"
    assert "customers/mover" not in w.search(query="mover")
    assert "customers/mover" not in w.search(region="west")
    assert w.search(query="华润") == ["customers/mover"]
    assert w.search(query="华") == w.expected(lambda r: r.name.startswith("华"))
    assert w.search(region="华南") == ["customers/huawei", "customers/mover"]
    assert w.search(region="华南", industry="retail") == ["customers/mover"]

    # Owner and tag move it too; the agent sees it once it is theirs.
    assert "customers/mover" not in w.search(caller=w.agent, query="华")
    w.write(cmd.AssignOwner(spb.AssignOwnerRequest(name="customers/mover", owner=AGENT,
                                                   request_id=new_request_id())))
    w.write(cmd.TagCustomer(spb.TagCustomerRequest(name="customers/mover", tag="new",
                                                   request_id=new_request_id())))
    w.rows["mover"].owner = AGENT
    w.rows["mover"].tags.append("new")
    assert "customers/mover" in w.search(caller=w.agent, query="华")
    assert w.search(tag="new", owner=AGENT) == ["customers/mover"]
    w.write(cmd.UntagCustomer(spb.UntagCustomerRequest(name="customers/mover", tag="new",
                                                       request_id=new_request_id())))
    w.rows["mover"].tags.remove("new")
    assert w.search(tag="new") == []
    assert w.search() == w.expected(lambda r: True)


def _answers(w: World) -> dict:
    queries = [{}, {"query": "华"}, {"query": "acme"}, {"region": "east china"},
               {"industry": "retail", "owner": AGENT}, {"tag": "vip"}, {"kind": cpb.PERSON},
               {"value_tier": cpb.HIGH_VALUE}, {"lifecycle_stage": cpb.FIRST_CONTACT},
               {"query": "page", "owner": AGENT}]
    out = {}
    for q in queries:
        key = repr(sorted(q.items()))
        out[key] = w.search(page_size=3, **q)
        out["agent " + key] = w.search(caller=w.agent, page_size=3, **q)
    return out


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    before = _answers(w)
    assert before[repr([])] == w.expected(lambda r: True)
    if w.engine == "embedded":
        w.server.restart(*_auth_args(w.idp.jwks_path), "--rebuild")
    else:
        w.server.restart("--rebuild")
    w.connect()
    assert _answers(w) == before


def test_fold_here_matches_nfkc_on_the_test_names():
    """The test's own fold agrees with NFKC+lower for the Latin names used above (a check of the
    test, not of the server)."""
    for row in CUSTOMERS + PAGED:
        name = row[1]
        if name.isascii() or "ａ" in name:
            assert fold(name) == " ".join(unicodedata.normalize("NFKC", name).lower().split())
