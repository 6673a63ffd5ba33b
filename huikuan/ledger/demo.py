"""The demo portfolio: N accounts, generated deterministically from a seed and written in bulk.

Four creditors (a bank's consumer-finance arm, a microloan company, a manufacturer with trade
receivables, a card issuer) with their portfolios, one debtor per account with valid ID numbers
or credit codes, contacts, an item schedule per account and recent payments with their
allocations. The same seed and N give the same rows; only ids and timestamps differ between
databases.

Everything is made column-wise with numpy and polars, then written with COPY (PostgreSQL) or
batched executemany (SQLite) inside one transaction: a failure leaves the database as it was.
A producer thread builds the next chunk while the database ingests the current one, so the
two cores work at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huikuan.audit.services import audit_record
from huikuan.ledger.domain import DEFAULT_ALLOCATION_ORDER, AccountStatus
from huikuan.ledger.models import (
    Account,
    Allocation,
    Contact,
    Creditor,
    Debtor,
    Payment,
    Portfolio,
    ReceivableItem,
)
from huikuan.lib.bulk import drop_for_load, worthwhile

CHUNK = 100_000  # accounts per chunk: bounds memory and sets the pipeline's grain
# Above this many accounts (and when the ledger holds fewer), PostgreSQL loads the way
# pg_restore does: secondary indexes and foreign keys are dropped inside the transaction and
# rebuilt after the COPY. Row-by-row FK checks and random index inserts cost ~5x more.
BULK_MIN_ACCOUNTS = 50_000

Array = np.ndarray[Any, Any]

# --- reference data -------------------------------------------------------------------------

CREDITORS = {
    "DEMO-BANK": "恒通银行消费金融中心",
    "DEMO-MICRO": "安信小额贷款有限公司",
    "DEMO-MFG": "华锐机械制造股份有限公司",
    "DEMO-CARD": "广源银行信用卡中心",
}


@dataclass(frozen=True)
class _Book:
    """One demo portfolio and how its accounts look."""

    creditor: str
    code: str
    name: str
    product: str
    share: float
    terms: tuple[tuple[int, float], ...]  # installment counts and weights; () for invoices
    principal: tuple[int, int]  # yuan, drawn log-uniformly (per invoice for trade)
    rate_bp: tuple[int, int]  # monthly interest, basis points
    prefix: str  # of contract numbers
    provinces: tuple[str, ...] = ()  # where the debtors are; () for anywhere


P = Account.Product
BOOKS = (
    _Book(
        "DEMO-BANK",
        "XFD-2023",
        "个人消费贷款 2023",
        P.LOAN,
        0.20,
        ((12, 0.5), (24, 0.3), (36, 0.2)),
        (20_000, 200_000),
        (45, 90),
        "XFD",
    ),
    _Book(
        "DEMO-BANK",
        "ZXD-2024",
        "装修分期贷款 2024",
        P.LOAN,
        0.15,
        ((12, 0.3), (24, 0.4), (36, 0.3)),
        (30_000, 300_000),
        (35, 70),
        "ZXD",
    ),
    _Book(
        "DEMO-MICRO",
        "XWD-2024",
        "小额信用贷款",
        P.LOAN,
        0.20,
        ((6, 0.3), (9, 0.3), (12, 0.4)),
        (3_000, 50_000),
        (120, 200),
        "AXD",
    ),
    _Book(
        "DEMO-MFG",
        "YS-HD",
        "华东经销商应收账款",
        P.TRADE,
        0.08,
        (),
        (20_000, 800_000),
        (0, 0),
        "HRXS",
        ("31", "32", "33", "34", "37"),
    ),
    _Book(
        "DEMO-MFG",
        "YS-HN",
        "华南经销商应收账款",
        P.TRADE,
        0.07,
        (),
        (20_000, 800_000),
        (0, 0),
        "HRXN",
        ("35", "44", "45", "46"),
    ),
    _Book(
        "DEMO-CARD",
        "XYK-FQ",
        "信用卡账单分期",
        P.CREDIT_CARD,
        0.30,
        ((6, 0.25), (12, 0.4), (18, 0.15), (24, 0.2)),
        (5_000, 80_000),
        (50, 75),
        "XYK",
    ),
)

# County-level codes under real prefecture-level cities: (code, province, city, district, weight).
REGIONS = (
    ("110101", "北京市", "北京市", "东城区", 2), ("110105", "北京市", "北京市", "朝阳区", 2),
    ("110108", "北京市", "北京市", "海淀区", 2), ("120104", "天津市", "天津市", "南开区", 2),
    ("310104", "上海市", "上海市", "徐汇区", 2), ("310115", "上海市", "上海市", "浦东新区", 2),
    ("500103", "重庆市", "重庆市", "渝中区", 2), ("130102", "河北省", "石家庄市", "长安区", 2),
    ("130203", "河北省", "唐山市", "路北区", 1), ("140105", "山西省", "太原市", "小店区", 1),
    ("150102", "内蒙古自治区", "呼和浩特市", "新城区", 1),
    ("210102", "辽宁省", "沈阳市", "和平区", 1), ("210202", "辽宁省", "大连市", "中山区", 1),
    ("220102", "吉林省", "长春市", "南关区", 1), ("230102", "黑龙江省", "哈尔滨市", "道里区", 1),
    ("320102", "江苏省", "南京市", "玄武区", 3), ("320506", "江苏省", "苏州市", "吴中区", 3),
    ("320213", "江苏省", "无锡市", "梁溪区", 2), ("330106", "浙江省", "杭州市", "西湖区", 3),
    ("330203", "浙江省", "宁波市", "海曙区", 2), ("330302", "浙江省", "温州市", "鹿城区", 2),
    ("340104", "安徽省", "合肥市", "蜀山区", 2), ("350102", "福建省", "福州市", "鼓楼区", 2),
    ("350203", "福建省", "厦门市", "思明区", 2), ("360102", "江西省", "南昌市", "东湖区", 1),
    ("370102", "山东省", "济南市", "历下区", 2), ("370202", "山东省", "青岛市", "市南区", 2),
    ("410105", "河南省", "郑州市", "金水区", 3), ("410305", "河南省", "洛阳市", "涧西区", 1),
    ("420106", "湖北省", "武汉市", "武昌区", 2), ("430104", "湖南省", "长沙市", "岳麓区", 2),
    ("440106", "广东省", "广州市", "天河区", 3), ("440305", "广东省", "深圳市", "南山区", 3),
    ("440604", "广东省", "佛山市", "禅城区", 2),
    ("450103", "广西壮族自治区", "南宁市", "青秀区", 1),
    ("460106", "海南省", "海口市", "龙华区", 1), ("510107", "四川省", "成都市", "武侯区", 3),
    ("520102", "贵州省", "贵阳市", "南明区", 1), ("530102", "云南省", "昆明市", "五华区", 1),
    ("610113", "陕西省", "西安市", "雁塔区", 2), ("620102", "甘肃省", "兰州市", "城关区", 1),
    ("640104", "宁夏回族自治区", "银川市", "兴庆区", 1),
    ("650102", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", 1),
)  # fmt: skip

# Surnames by rough share per mille of the population (王 李 张 about 7% each).
SURNAMES = (
    (70, "王李张"), (54, "刘"), (45, "陈"), (31, "杨"), (21, "黄赵吴周"), (13, "徐孙马朱"),
    (9, "胡郭何林高罗郑"), (6, "梁谢"), (5, "宋唐许韩冯邓曹"),
    (4, "彭曾肖田董袁潘于蒋蔡余杜叶程"), (3, "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"),
    (2, "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"), (1, "万钱严覃武戴莫孔向汤"),
)  # fmt: skip
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
MALE_CHARS = "伟强磊军洋勇杰涛明超辉刚平鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国志文博晨振海峰亮"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英燕萍红婷雪琳晶慧颖倩丹洁莉璐欣怡佳梦雨嘉思悦月"
TRADE_NAME_1 = "恒华宏鑫中天瑞永金汇联博新盛东长通信德泰嘉远海正佳合安顺兴鼎"
TRADE_NAME_2 = "达盛远源科成丰泰鼎通创锐世方城诚润和禾航纳力发业"
INDUSTRIES = (
    "科技", "贸易", "建材", "电子", "机械设备", "物流", "食品", "纺织", "化工", "医药",
    "汽车配件", "五金", "家居", "包装材料", "建筑工程", "农业发展", "环保科技", "信息技术",
    "餐饮管理", "商贸",
)  # fmt: skip
ROADS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "黄河路", "文化路",
    "胜利路", "朝阳路", "青年路", "光明路", "幸福路", "东风路", "建国路", "学府路", "科技路",
    "创业路", "湖滨路",
)  # fmt: skip
# Mobile prefixes that every number plan (and phonenumbers) accepts.
MOBILE_PREFIXES = (
    *range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 173, 175, 176, 177,
    178, *range(180, 190), 191, 193, 195, 198, 199,
)  # fmt: skip

# Target spread: current, paid off, then the default buckets 1–30, 31–90, 91–180, 181+.
CATEGORY_SHARES = (0.31, 0.04, 0.25, 0.18, 0.10, 0.12)
DPD_RANGES = ((0, 0), (0, 0), (1, 30), (31, 90), (91, 180), (181, 720))
PAYMENT_SHARE = 0.29  # of those that can pay: ~25% of all accounts
PLACED_SHARE = 0.05  # of 91+ DPD accounts, when an agency team is given
METHODS = ("bank", "alipay", "wechat")

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_RID_WEIGHTS = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_ORG_WEIGHTS = np.array((3, 7, 9, 10, 5, 8, 4, 2))


# --- the API ---------------------------------------------------------------------------------


class DemoError(Exception):
    """The demo cannot be loaded (already loaded, clashing contract numbers, bad arguments)."""


@dataclass(frozen=True)
class DemoResult:
    """Rows written per table."""

    creditors: int
    portfolios: int
    debtors: int
    contacts: int
    accounts: int
    items: int
    payments: int
    allocations: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def rows(self) -> int:
        return sum(self.as_dict().values())


TABLES: tuple[type[models.Model], ...] = (
    Debtor, Contact, Account, ReceivableItem, Payment, Allocation,
)  # fmt: skip


def demo_generate(
    *,
    accounts: int,
    seed: int = 2026,
    as_of: dt.date,
    actor: Any = None,
    collectors: Sequence[int] | None = None,
    teams: Sequence[int] | None = None,
    agency_team: int | None = None,
) -> DemoResult:
    """Generate and store ``accounts`` demo accounts as of ``as_of``, in one transaction.

    Delinquent accounts go round-robin to ``collectors`` (user ids) and ``teams`` (team ids);
    about 5% of those 91+ days past due are placed with ``agency_team`` instead. Raises
    ``DemoError`` when the demo creditors already exist or a contract number is taken.

    On PostgreSQL a load of at least ``BULK_MIN_ACCOUNTS`` into a smaller ledger holds an
    exclusive lock on the ledger tables until it commits (readers wait a minute or two).
    """
    if accounts < 1:
        raise DemoError(_("The number of accounts must be at least 1."))
    postgres = connection.vendor == "postgresql"
    counts = dict.fromkeys((m._meta.db_table for m in TABLES), 0)
    with transaction.atomic(), connection.cursor() as cursor:
        taken = sorted(Creditor.objects.filter(code__in=CREDITORS).values_list("code", flat=True))
        if taken:
            raise DemoError(
                _(
                    "The demo portfolio is already loaded (demo creditors: %(codes)s). Use a fresh "
                    "database, or remove the demo creditors and their accounts first."
                )
                % {"codes": ", ".join(taken)}
            )
        bulk = postgres and worthwhile(accounts, Account.objects.count(), BULK_MIN_ACCOUNTS)
        restore = _pg_prepare(cursor, bulk=bulk) if postgres else []
        bases = {m._meta.db_table: _next_id(cursor, m) for m in TABLES}
        setup = _setup(as_of, actor, collectors, teams, agency_team, bases)
        serialise = functools.partial(_serialise, now=setup.now, postgres=postgres)
        for frames in _pipeline(_chunks(setup, accounts=accounts, seed=seed), serialise):
            for model, data, rows in frames:
                _write(cursor, model, data)
                counts[model._meta.db_table] += rows
        if postgres:
            # Statistics first: the foreign key checks below plan their joins with them.
            _pg_finish(cursor, bases, counts, analyze=bulk)
        for statement in restore:
            cursor.execute(statement)
        _check_contract_numbers(cursor, bases[Account._meta.db_table])
        result = DemoResult(len(CREDITORS), len(BOOKS), *counts.values())
        audit_record(
            actor=actor,
            action="demo.generate",
            object_type="ledger.demo",
            object_id=str(seed),
            changes={"as_of": [None, as_of], **{k: [None, v] for k, v in result.as_dict().items()}},
        )
    return result


def demo_frames(*, accounts: int, seed: int, as_of: dt.date) -> list[dict[str, pl.DataFrame]]:
    """The frames ``demo_generate`` would write into an empty ledger, without a database."""
    setup = _Setup(
        as_of=as_of,
        creditor_ids=tuple(range(1, len(BOOKS) + 1)),
        portfolio_ids=tuple(range(1, len(BOOKS) + 1)),
        collectors=(),
        teams=(),
        agency_team=None,
        actor_id=None,
        now="",
        bases={m._meta.db_table: 1 for m in TABLES},
    )
    return [
        {m._meta.db_table: f for m, f in chunk}
        for chunk in _chunks(setup, accounts=accounts, seed=seed)
    ]


# --- setup: creditors, portfolios, ids ------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    as_of: dt.date
    creditor_ids: tuple[int, ...]  # per book
    portfolio_ids: tuple[int, ...]
    collectors: tuple[int, ...]
    teams: tuple[int, ...]
    agency_team: int | None
    actor_id: int | None
    now: str  # the value of auto_now fields, as the database takes it
    bases: dict[str, int]  # first free id per table


def _setup(
    as_of: dt.date,
    actor: Any,
    collectors: Sequence[int] | None,
    teams: Sequence[int] | None,
    agency_team: int | None,
    bases: dict[str, int],
) -> _Setup:
    creditors = {
        code: Creditor.objects.create(code=code, name=name) for code, name in CREDITORS.items()
    }
    portfolios = [
        Portfolio.objects.create(creditor=creditors[b.creditor], code=b.code, name=b.name)
        for b in BOOKS
    ]
    return _Setup(
        as_of=as_of,
        creditor_ids=tuple(creditors[b.creditor].pk for b in BOOKS),
        portfolio_ids=tuple(p.pk for p in portfolios),
        collectors=tuple(collectors or ()),
        teams=tuple(teams or ()),
        agency_team=agency_team,
        actor_id=actor.pk if actor is not None else None,
        now=str(connection.ops.adapt_datetimefield_value(timezone.now())),
        bases=bases,
    )


def _next_id(cursor: Any, model: type[models.Model]) -> int:
    """One past the highest id the table has used, by its rows or its sequence."""
    table, pk = model._meta.db_table, model._meta.pk.column
    qn = connection.ops.quote_name
    cursor.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")  # noqa: S608
    high = int(cursor.fetchone()[0])
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, %s)::regclass)", [table, pk]
        )
    else:
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    row = cursor.fetchone()
    return max(high, int(row[0]) if row and row[0] is not None else 0) + 1


# --- generation: numpy and polars, no database ----------------------------------------------


def _chunks(
    setup: _Setup, *, accounts: int, seed: int
) -> Iterator[list[tuple[type[models.Model], pl.DataFrame]]]:
    """Frames per chunk with final ids, in write order. A pure function of its arguments."""
    next_ids = dict(setup.bases)
    rank = 0  # delinquent accounts so far: the round-robin goes on across chunks
    seen = _SeenKeys()  # ID numbers of the earlier chunks: a debtor is one ID number
    for index, first in enumerate(range(0, accounts, CHUNK)):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))
        chunk = _Chunk(rng, setup, first, min(CHUNK, accounts - first), next_ids, rank)
        chunk.seen = seen
        frames = chunk.frames()
        rank = chunk.rank
        for model, frame in frames:
            next_ids[model._meta.db_table] += frame.height
        yield frames


class _SeenKeys:
    """64-bit hashes of the ID numbers drawn so far, as a few sorted arrays (merged when one
    grows as large as the one before it), so that checking a chunk costs a few binary searches
    however many chunks came before. A hash collision only makes a debtor draw again."""

    def __init__(self) -> None:
        self.runs: list[Array] = []

    def contains(self, keys: Array) -> Array:
        found = np.zeros(len(keys), dtype=bool)
        for run in self.runs:
            at = np.searchsorted(run, keys).clip(max=len(run) - 1)
            found |= run[at] == keys
        return found

    def add(self, keys: Array) -> None:
        self.runs.append(np.sort(keys))
        while len(self.runs) > 1 and len(self.runs[-2]) <= len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate((self.runs[-1], last)))


def _months(d: Array) -> Array:
    return np.asarray(d).astype("datetime64[M]").astype(np.int64)


def _add_months(d: Array, months: Array | int) -> Array:
    """Same day of month, ``months`` later (days ≤ 28, so every month has them)."""
    start = d.astype("datetime64[M]")
    return (start + months).astype("datetime64[D]") + (d - start.astype("datetime64[D]"))


def _day_of_month(d: Array) -> Array:
    return (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def _digits(values: Array, width: int) -> Array:
    return (values[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10


def _pick(options: Sequence[str], index: Array) -> pl.Series:
    return pl.Series(list(options), dtype=pl.String).gather(index)


def _text(values: Array, width: int = 1) -> pl.Series:
    return pl.Series(values).cast(pl.String).str.zfill(width)


def _where(mask: Array, yes: pl.Series, no: pl.Series | str) -> pl.Series:
    other = no if isinstance(no, pl.Series) else pl.repeat(no, len(yes), eager=True)
    return yes.zip_with(pl.Series(mask), other)


def _ids_or_null(values: Array, keep: Array) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).scatter(np.flatnonzero(~keep), None)


def _frame(columns: dict[str, Any]) -> pl.DataFrame:
    """A frame from arrays and text constants that keeps its column types with no rows."""
    height = next(len(v) for v in columns.values() if not isinstance(v, str))
    return pl.DataFrame(
        {
            k: pl.repeat(v, height, eager=True) if isinstance(v, str) else v
            for k, v in columns.items()
        }
    )


def _waterfall(amount: Array, parts: Sequence[Array]) -> list[Array]:
    """What ``amount`` covers of each part, in order (fee, interest, principal)."""
    taken, left = [], amount
    for part in parts:
        take = np.minimum(left, part)
        taken.append(take)
        left = left - take
    return taken


# The portfolios keep the default order (by item: fee, interest, principal); payments follow it.
COMPONENTS = tuple(str(c) for c in DEFAULT_ALLOCATION_ORDER)


class _Chunk:
    """``n`` accounts from global index ``first``; ``frames()`` builds every table's rows.

    Money is integer fen throughout; ``_serialise`` turns it into exact decimals.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        setup: _Setup,
        first: int,
        n: int,
        next_ids: dict[str, int],
        rank: int,
    ) -> None:
        self.rng, self.setup, self.first, self.n, self.rank = rng, setup, first, n, rank
        self.next_ids = next_ids
        self.as_of = np.datetime64(setup.as_of, "D")
        self.seen = _SeenKeys()

    def _id(self, model: type[models.Model], count: int) -> Array:
        return self.next_ids[model._meta.db_table] + np.arange(count, dtype=np.int64)

    def frames(self) -> list[tuple[type[models.Model], pl.DataFrame]]:
        self._plan()
        self._schedule()
        payments, allocations = self._payments()
        return [
            (Debtor, self._debtors()),
            (Contact, self._contacts()),
            (Account, self._accounts()),
            (ReceivableItem, self._items()),
            (Payment, payments),
            (Allocation, allocations),
        ]

    # -- accounts: book, terms, bucket, and the item the bucket hangs on

    def _plan(self) -> None:
        rng, n, as_of = self.rng, self.n, self.as_of
        shares = np.array([b.share for b in BOOKS])
        self.book = book = rng.choice(len(BOOKS), size=n, p=shares / shares.sum())
        self.trade = trade = np.array([b.product == P.TRADE for b in BOOKS])[book]
        terms = rng.integers(1, 6, n)  # invoices
        for b, spec in enumerate(BOOKS):
            if spec.terms:
                mask = book == b
                counts, weights = zip(*spec.terms, strict=True)
                terms[mask] = rng.choice(counts, size=int(mask.sum()), p=weights)
        cat = rng.choice(len(CATEGORY_SHARES), size=n, p=CATEGORY_SHARES)
        paid_off = cat == 1
        # Loans paid off within the 3 years had at most 24 terms and ended long enough ago.
        terms = np.where(paid_off & ~trade, np.minimum(terms, 24), terms)
        lo, hi = np.array(DPD_RANGES).T
        spread = np.where(cat == 5, rng.exponential(0.3, n).clip(0, 1), rng.random(n))
        dpd = lo[cat] + np.minimum(
            (spread * (hi[cat] - lo[cat] + 1)).astype(np.int64), hi[cat] - lo[cat]
        )
        ended = 1 + (rng.random(n) * np.where(trade, 540, (33 - terms) * 28)).astype(np.int64)
        anchor = np.where(cat >= 2, as_of - dpd, as_of + rng.integers(0, 24, n))
        anchor = np.where(paid_off, as_of - np.minimum(ended, 540), anchor)
        # Keep due days ≤ 28 so monthly schedules need no month-end rule; stay in the bucket.
        back = (cat == 1) | ((cat >= 2) & (dpd + 3 <= hi[cat]))
        anchor = np.where(_day_of_month(anchor) > 28, anchor + np.where(back, -3, 4), anchor)
        # Open dates stay within 3 years, which caps the items before the anchor.
        cap = np.where(trade, 99, _months(anchor) - _months(np.asarray(as_of)) + 34).clip(0)
        cap = np.minimum(cap, terms - 1)
        # Leaning towards the cap spreads open dates over the 3 years despite short terms.
        pick = np.minimum((np.sqrt(rng.random(n)) * (cap + 1)).astype(np.int64), cap)
        self.cat, self.paid_off, self.terms, self.anchor = cat, paid_off, terms, anchor
        self.anchor_item = np.where(paid_off, terms - 1, pick)
        self.first_unpaid = np.where(paid_off, terms, pick)  # index of the oldest unpaid item
        self.offsets = np.concatenate(([0], np.cumsum(terms)[:-1]))

    # -- items: due dates and amounts, what was paid before the data came in

    def _schedule(self) -> None:
        rng, n, as_of = self.rng, self.n, self.as_of
        self.acc = acc = np.repeat(np.arange(n), self.terms)
        m = len(acc)
        self.j = j = np.arange(m) - self.offsets[acc]
        trade = self.trade[acc]
        # Installments fall monthly around the anchor, invoices 7–45 days apart.
        cum = np.cumsum(np.where(j == 0, 0, rng.integers(7, 46, m)))
        cum = cum - cum[self.offsets][acc]
        shift = cum - cum[self.offsets + self.anchor_item][acc]
        self.due = due = np.where(
            trade,
            self.anchor[acc] + shift,
            _add_months(self.anchor[acc], j - self.anchor_item[acc]),
        )
        first_due = due[self.offsets]
        self.open_date = np.where(
            self.trade, first_due - rng.choice([30, 60, 90], size=n), _add_months(first_due, -1)
        )
        # Loans: equal principal (whole hundreds of yuan), interest on what is still owed.
        lo, hi = np.array([b.principal for b in BOOKS]).T[:, self.book]
        principal = (np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))) / 100) * 10_000).astype(
            np.int64
        )
        rates = np.array([b.rate_bp for b in BOOKS])[self.book]
        rate = rng.integers(rates[:, 0], rates[:, 1] + 1)
        share = (principal // self.terms)[acc]
        left = principal[acc] - share * j
        p_due = np.where(j == self.terms[acc] - 1, left, share)
        i_due = (left * rate[acc] + 5_000) // 10_000
        invoice = (np.exp(rng.uniform(np.log(lo[acc]), np.log(hi[acc]))) * 100).astype(np.int64)
        p_due = np.where(trade, invoice, p_due)
        i_due = np.where(trade, 0, i_due)
        self.principal = np.where(self.trade, np.add.reduceat(p_due, self.offsets), principal)
        # Late fees (5%, 20–200 yuan) on the overdue installments of most late loan accounts.
        unpaid = j >= self.first_unpaid[acc]
        late = (due < as_of) & unpaid & ~trade & (rng.random(n) < 0.6)[acc]
        f_due = np.where(late, ((p_due + i_due) // 2_000 * 100).clip(2_000, 20_000), 0)
        self.owed = dict(zip(COMPONENTS, (f_due, i_due, p_due), strict=True))
        # Paid before the import: every item before the oldest unpaid one, and for some late
        # accounts part of that one too (fee, then interest, then principal).
        self.opening = (rng.random(n) < 0.15) & (self.cat >= 2)
        head = (j == self.first_unpaid[acc]) & self.opening[acc]
        part = ((f_due + i_due + p_due) * rng.uniform(0.1, 0.9, m)).astype(np.int64) // 100 * 100
        covered = _waterfall(np.where(head, part, 0), (f_due, i_due, p_due))
        self.paid = {
            c: np.where(unpaid, cov, self.owed[c])
            for c, cov in zip(COMPONENTS, covered, strict=True)
        }

    # -- payments: recent money, allocated to one item, reflected in its paid amounts

    def _payments(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        rng, n, as_of = self.rng, self.n, self.as_of
        # Current accounts paid their last installment; others paid part of the oldest one.
        regular = (self.cat == 0) & (self.first_unpaid >= 1)
        target = self.offsets + np.where(regular, self.first_unpaid - 1, self.first_unpaid)
        target = np.minimum(target, self.offsets + self.terms - 1)
        parts = [self.owed[c][target] for c in COMPONENTS]
        total = parts[0] + parts[1] + parts[2]
        partial = (total * rng.uniform(0.1, 0.9, n)).astype(np.int64) // 100 * 100
        amount = np.where(regular, total, partial)
        pays = (
            ~self.paid_off
            & ~self.opening
            & (rng.random(n) < PAYMENT_SHARE)
            & (amount > 0)
            & (regular | (amount < total))
        )
        split = (amount * rng.uniform(0.3, 0.7, n)).astype(np.int64) // 100 * 100
        two = pays & ~regular & (rng.random(n) < 0.3) & (split > 0) & (split < amount)
        first_amount = np.where(two, split, amount)
        # Received in the last 60 days, never before the account opened.
        window = np.minimum(60, (as_of - self.open_date).astype(np.int64)).clip(0)
        d1, d2 = (rng.random((2, n)) * (window + 1)).astype(np.int64)
        on_time = self.due[target] - rng.integers(0, 6, n)
        first_on = np.where(
            regular, np.clip(on_time, as_of - window, as_of), as_of - np.maximum(d1, d2)
        )
        second_on = as_of - np.minimum(d1, d2)
        method = np.where(self.trade, 0, rng.choice(len(METHODS), size=n, p=(0.45, 0.3, 0.25)))
        # The regular payment is what paid its item, not an opening balance.
        for c in COMPONENTS:
            self.paid[c][target[pays & regular]] = 0
        acc = np.sort(np.concatenate((np.flatnonzero(pays), np.flatnonzero(two))), kind="stable")
        second = np.zeros(len(acc), dtype=bool)
        second[1:] = acc[1:] == acc[:-1]
        k = len(acc)
        before = np.where(second, first_amount[acc], 0)
        paid = np.where(second, amount[acc] - first_amount[acc], first_amount[acc])
        received = np.where(second, second_on[acc], first_on[acc])
        ids = self._id(Payment, k)
        reference = (
            _pick(("BK", "ZFB", "WX"), method[acc])
            + pl.Series(received).dt.strftime("%Y%m%d")
            + _text(rng.integers(0, 10**10, k), 10)
        )
        payments = _frame(
            {
                "id": ids,
                "account_id": self._id(Account, n)[acc],
                "amount": paid,
                "currency": "CNY",
                "received_on": received,
                "method": _pick(METHODS, method[acc]),
                "reference": reference,
                "idempotency_key": pl.repeat(None, k, dtype=pl.String, eager=True),
                "unapplied": np.zeros(k, np.int64),
                "reason": "",
                "reversal_of_id": pl.repeat(None, k, dtype=pl.Int64, eager=True),
                "created_by_id": pl.repeat(self.setup.actor_id, k, dtype=pl.Int64, eager=True),
            }
        )
        # Each payment's allocation is the step it adds to the waterfall over its item.
        item_ids = self._id(ReceivableItem, len(self.acc))
        mine = [p[acc] for p in parts]
        lines = []
        for c, upto, was in zip(
            COMPONENTS, _waterfall(before + paid, mine), _waterfall(before, mine), strict=True
        ):
            step, keep = upto - was, upto > was
            np.add.at(self.paid[c], target[acc][keep], step[keep])
            lines.append(
                _frame(
                    {
                        "payment_id": ids[keep],
                        "item_id": item_ids[target[acc][keep]],
                        "component": c,
                        "amount": step[keep],
                        "effective_on": received[keep],
                        "order": np.full(int(keep.sum()), COMPONENTS.index(c)),
                    }
                )
            )
        allocations = pl.concat(lines).sort("payment_id", "order").drop("order")
        return payments, allocations.with_columns(
            pl.Series("id", self._id(Allocation, allocations.height))
        )

    def _items(self) -> pl.DataFrame:
        m, trade = len(self.acc), self.trade[self.acc]
        number = np.where(
            trade, self.rng.integers(10**7, 9 * 10**7, self.n)[self.acc] + self.j, self.j + 1
        )
        return _frame(
            {
                "id": self._id(ReceivableItem, m),
                "account_id": self._id(Account, self.n)[self.acc],
                "kind": _where(trade, pl.repeat("invoice", m, eager=True), "installment"),
                "number": _text(number, 2),
                "due_date": self.due,
                **{f"{c}_due": self.owed[c] for c in COMPONENTS},
                **{f"{c}_paid": self.paid[c] for c in COMPONENTS},
            }
        )

    # -- accounts: aggregates and status from the items, collectors round-robin

    def _accounts(self) -> pl.DataFrame:
        rng, n, as_of, setup = self.rng, self.n, self.as_of, self.setup
        left = {c: np.add.reduceat(self.owed[c] - self.paid[c], self.offsets) for c in COMPONENTS}
        outstanding = left["fee"] + left["interest"] + left["principal"]
        last = self.offsets + self.terms - 1
        oldest = np.where(
            self.paid_off,
            np.datetime64("NaT"),
            self.due[np.minimum(self.offsets + self.first_unpaid, last)],
        )
        late = ~self.paid_off & (oldest < as_of)
        placed = (
            late
            & (as_of - oldest > np.timedelta64(90, "D"))
            & (rng.random(n) < PLACED_SHARE)
            & (setup.agency_team is not None)
        )
        worked = late & ~placed
        rank = self.rank + np.cumsum(worked) - 1
        self.rank += int(worked.sum())
        collectors = np.array(setup.collectors or (0,))[rank % max(1, len(setup.collectors))]
        teams = np.array(setup.teams or (0,))[rank % max(1, len(setup.teams))]
        teams = np.where(placed, setup.agency_team or 0, teams)
        status = np.select([placed, late, outstanding == 0], [3, 1, 2], 0)
        statuses = [
            str(s)
            for s in (
                AccountStatus.CURRENT,
                AccountStatus.DELINQUENT,
                AccountStatus.PAID_OFF,
                AccountStatus.PLACED,
            )
        ]
        contract_no = (
            _pick([b.prefix for b in BOOKS], self.book)
            + "-"
            + pl.Series(self.open_date).dt.year().cast(pl.String)
            + "-"
            + _text(self.first + np.arange(n) + 1, 8)
        )
        return _frame(
            {
                "id": self._id(Account, n),
                "creditor_id": np.array(setup.creditor_ids)[self.book],
                "portfolio_id": np.array(setup.portfolio_ids)[self.book],
                "debtor_id": self._id(Debtor, n),
                "contract_no": contract_no,
                "product": _pick([b.product for b in BOOKS], self.book),
                "currency": "CNY",
                "principal": self.principal,
                "open_date": self.open_date,
                "status": _pick(statuses, status),
                "collector_id": _ids_or_null(collectors, worked & bool(setup.collectors)),
                "team_id": _ids_or_null(teams, (worked & bool(setup.teams)) | placed),
                "outstanding": outstanding,
                "principal_outstanding": left["principal"],
                "interest_outstanding": left["interest"],
                "fee_outstanding": left["fee"],
                "oldest_unpaid_due": oldest,
                **self._overdue(),
                "unapplied": np.zeros(n, np.int64),
            }
        )

    def _overdue(self) -> dict[str, Array]:
        """The overdue aggregates on the as-of date (see ``Account.overdue_as_of``)."""
        late = self.due < self.as_of
        overdue = {
            f"overdue_{c}": np.add.reduceat(
                np.where(late, self.owed[c] - self.paid[c], 0), self.offsets
            )
            for c in COMPONENTS
        }
        unpaid = sum(self.owed[c] - self.paid[c] for c in COMPONENTS) > 0
        never = np.iinfo(np.int64).max
        days = np.where(~late & unpaid, self.due.astype("datetime64[D]").astype(np.int64), never)
        first = np.minimum.reduceat(days, self.offsets)
        upcoming = np.where(first == never, np.datetime64("NaT"), first.astype("datetime64[D]"))
        return {
            **overdue,
            "overdue_as_of": np.full(self.n, self.as_of),
            "next_due_date": upcoming,
        }

    # -- debtors and contacts

    def _regions(self) -> Array:
        """A region per account by rough population; trade books keep to their provinces."""
        region = np.empty(self.n, dtype=np.int64)
        for b, spec in enumerate(BOOKS):
            mask = self.book == b
            weights = np.array(
                [
                    w if not spec.provinces or code[:2] in spec.provinces else 0
                    for code, *_names, w in REGIONS
                ],
                dtype=float,
            )
            region[mask] = self.rng.choice(
                len(REGIONS), size=int(mask.sum()), p=weights / weights.sum()
            )
        return region

    def _person_names(self, male: Array) -> pl.Series:
        rng, n = self.rng, len(male)
        surnames = [c for _w, cs in SURNAMES for c in cs] + list(COMPOUND_SURNAMES)
        weights = np.array([w for w, cs in SURNAMES for _c in cs] + [0.3] * len(COMPOUND_SURNAMES))
        name = _pick(surnames, rng.choice(len(surnames), size=n, p=weights / weights.sum()))
        for optional in (False, True):  # one given-name character, often a second
            idx = rng.integers(0, 10**6, n)
            char = _where(
                male,
                _pick(MALE_CHARS, idx % len(MALE_CHARS)),
                _pick(FEMALE_CHARS, idx % len(FEMALE_CHARS)),
            )
            name = name + (_where(rng.random(n) < 0.65, char, "") if optional else char)
        return name

    def _debtors(self) -> pl.DataFrame:
        rng, n = self.rng, self.n
        self.region = self._regions()
        code = np.array([int(r[0]) for r in REGIONS])[self.region]
        # Individuals, GB 11643: region, birth date (1960–2002), sequence (odd for men), check.
        male = rng.random(n) < 0.55
        id_number = _where(self.trade, self._credit_codes(code), self._resident_ids(code, male))
        # Random draws repeat now and then (about one in 10^4 at 100,000 debtors, more across
        # a million), and a debtor is one (kind, ID number): draw again for the repeats, in
        # the chunk and with the earlier chunks, until none is left.
        while (
            again := (id_number.is_duplicated() & ~id_number.is_first_distinct())
            | pl.Series(self.seen.contains(id_number.hash(seed=0).to_numpy()))
        ).any():
            index = np.flatnonzero(again.to_numpy())
            fresh = _where(
                self.trade[index],
                self._credit_codes(code[index]),
                self._resident_ids(code[index], male[index]),
            )
            id_number = id_number.scatter(index, fresh)
        self.seen.add(id_number.hash(seed=0).to_numpy())
        city = _pick([r[2].removesuffix("市") for r in REGIONS], self.region)
        company = (
            city
            + _pick(TRADE_NAME_1, rng.integers(0, len(TRADE_NAME_1), n))
            + _pick(TRADE_NAME_2, rng.integers(0, len(TRADE_NAME_2), n))
            + _pick(INDUSTRIES, rng.integers(0, len(INDUSTRIES), n))
            + _where(rng.random(n) < 0.1, pl.repeat("股份有限公司", n, eager=True), "有限公司")
        )
        self.names = _where(self.trade, company, self._person_names(male))
        return _frame(
            {
                "id": self._id(Debtor, n),
                "kind": _where(self.trade, pl.repeat("enterprise", n, eager=True), "individual"),
                "name": self.names,
                "id_number": id_number,
                "region": _text(code, 6),
            }
        )

    def _resident_ids(self, code: np.ndarray, male: np.ndarray) -> pl.Series:
        """GB 11643: region, birth date (1960–2002), sequence (odd for men), check."""
        n = len(code)
        birth = np.datetime64("1960-01-01") + self.rng.integers(0, 15_706, n)
        ymd = (
            (birth.astype("datetime64[Y]").astype(np.int64) + 1970) * 10_000
            + (_months(birth) % 12 + 1) * 100
            + _day_of_month(birth)
        )
        sequence = self.rng.integers(0, 500, n) * 2 + male
        body = np.hstack((_digits(code, 6), _digits(ymd, 8), _digits(sequence, 3)))
        return (
            _text(code, 6)
            + _text(ymd, 8)
            + _text(sequence, 3)
            + _pick("10X98765432", (body @ _RID_WEIGHTS) % 11)
        )

    def _credit_codes(self, code: np.ndarray) -> pl.Series:
        """GB 32100: 9 (market regulation), 1 (enterprise), region, a GB 11714 organisation
        code with its own check character, then the mod-31 check character."""
        n = len(code)
        org = _digits(self.rng.integers(0, 10**8, n), 8)
        org_check = 11 - (org @ _ORG_WEIGHTS) % 11
        org_check = np.select(
            [org_check == 10, org_check == 11], [USCC_CHARSET.index("X"), 0], org_check
        )
        values = np.hstack(
            (
                np.full((n, 1), 9),
                np.ones((n, 1), np.int64),
                _digits(code, 6),
                org,
                org_check[:, None],
            )
        )
        chars = np.hstack((values, ((31 - (values @ _USCC_WEIGHTS) % 31) % 31)[:, None]))
        credit_code = _pick(USCC_CHARSET, chars[:, 0])
        for i in range(1, 18):
            credit_code = credit_code + _pick(USCC_CHARSET, chars[:, i])
        return credit_code

    def _phones(self, n: int) -> pl.Series:
        prefix = np.array(MOBILE_PREFIXES)[self.rng.integers(0, len(MOBILE_PREFIXES), n)]
        return "+86" + _text(prefix * 10**8 + self.rng.integers(0, 10**8, n))

    def _contacts(self) -> pl.DataFrame:
        rng, n = self.rng, self.n
        # The debtor's own mobile and address: province, city, district, road, number.
        places = [r[2] + r[3] if r[1] == r[2] else r[1] + r[2] + r[3] for r in REGIONS]
        flat = _text(rng.integers(1, 30, n)) + "栋" + _text(rng.integers(101, 3000, n)) + "室"
        address = (
            _pick(places, self.region)
            + _pick(ROADS, rng.integers(0, len(ROADS), n))
            + _text(rng.integers(1, 400, n))
            + "号"
            + _where(~self.trade & (rng.random(n) < 0.6), flat, "")
        )
        qq = _text(rng.integers(10**7, 10**10, n)) + "@qq.com"
        own = _frame(
            {
                "debtor": np.arange(n),
                "relation": "self",
                "name": self.names,
                "phone": self._phones(n),
                "email": _where(rng.random(n) < 0.3, qq, ""),
                "address": address,
                "verified": rng.random(n) < 0.7,
            }
        )
        # About half name a second person: guarantor or emergency contact for individuals,
        # legal representative or finance contact for enterprises.
        who = np.flatnonzero(rng.random(n) < 0.5)
        k, draw = len(who), rng.random(len(who))
        relation = np.where(self.trade[who], np.where(draw < 0.5, 2, 3), np.where(draw < 0.3, 0, 1))
        mail = "cw" + _text(rng.integers(10**5, 10**7, k)) + "@163.com"
        other = _frame(
            {
                "debtor": who,
                "relation": _pick(("guarantor", "emergency", "legal_rep", "finance"), relation),
                "name": self._person_names(rng.random(k) < 0.5),
                "phone": self._phones(k),
                "email": _where(relation == 3, mail, ""),
                "address": "",
                "verified": rng.random(k) < 0.4,
            }
        )
        contacts = pl.concat([own, other]).sort("debtor", maintain_order=True)
        return contacts.with_columns(
            pl.Series("id", self._id(Contact, contacts.height)),
            pl.Series("debtor_id", self._id(Debtor, n)[contacts["debtor"].to_numpy()]),
            pl.Series("do_not_contact", rng.random(contacts.height) < 0.02),
        ).drop("debtor")


# --- writing --------------------------------------------------------------------------------

Serialised = list[tuple[type[models.Model], Any, int]]


def _pipeline(
    chunks: Iterator[list[tuple[type[models.Model], pl.DataFrame]]],
    serialise: Callable[[type[models.Model], pl.DataFrame], Any],
) -> Iterator[Serialised]:
    """Generate and serialise in a thread, one chunk ahead of the database."""
    out: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for frames in chunks:
                put([(model, serialise(model, frame), frame.height) for model, frame in frames])
                if stop.is_set():
                    return
            put(done)
        except BaseException as exc:  # the consumer re-raises it
            put(exc)

    worker = threading.Thread(target=produce, name="demo-generate", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _serialise(model: type[models.Model], frame: pl.DataFrame, *, now: str, postgres: bool) -> Any:
    """Columns in model order as the database takes them: CSV for COPY, a frame for SQLite."""
    columns = []
    for field in model._meta.concrete_fields:
        if field.attname in frame.columns:
            column = pl.col(field.attname)
            if isinstance(field, models.DecimalField):  # fen → exact decimal
                column = column.cast(pl.Decimal(38, 0)) * pl.lit(
                    Decimal(1).scaleb(-(field.decimal_places or 0))
                )
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            column = pl.lit(now)
        elif field.has_default() and not callable(field.default):
            column = pl.lit(field.default)
        elif field.null:
            column = pl.lit(None)
        else:
            raise AssertionError(f"the demo has no value for {model.__name__}.{field.name}")
        columns.append(column.alias(field.column))
    out = frame.select(columns)
    if postgres:
        buffer = io.BytesIO()
        out.write_csv(buffer, include_header=False, null_value="\\N")
        return buffer.getvalue()
    return out.with_columns(
        pl.col(pl.Decimal, pl.Date).cast(pl.String), pl.col(pl.Boolean).cast(pl.Int8)
    )


def _write(cursor: Any, model: type[models.Model], data: Any) -> None:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = ", ".join(qn(f.column) for f in model._meta.concrete_fields)
    if connection.vendor == "postgresql":
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
            copy.write(data)
        return
    marks = ", ".join(["%s"] * len(model._meta.concrete_fields))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    for block in data.iter_slices(50_000):
        cursor.executemany(sql, block.rows())


def _pg_prepare(cursor: Any, *, bulk: bool) -> list[str]:
    """Lock the tables; for a bulk load drop their indexes and constraints.

    Returns the statements that rebuild what was dropped. It all happens inside the
    transaction, so a failure restores the schema as well.
    """
    names = [m._meta.db_table for m in TABLES]
    qn = connection.ops.quote_name
    cursor.execute("SET LOCAL lock_timeout = '30s'")
    mode = "ACCESS EXCLUSIVE" if bulk else "EXCLUSIVE"  # EXCLUSIVE still lets readers in
    cursor.execute(f"LOCK TABLE {', '.join(map(qn, names))} IN {mode} MODE")
    if not bulk:
        return []
    cursor.execute("SET LOCAL maintenance_work_mem = '2GB'")
    return drop_for_load(cursor, names)


def _pg_finish(
    cursor: Any, bases: dict[str, int], counts: dict[str, int], *, analyze: bool
) -> None:
    """Move each sequence past the ids used; refresh planner statistics after a bulk load."""
    for model in TABLES:
        table = model._meta.db_table
        if counts[table]:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)",
                [table, model._meta.pk.column, bases[table] + counts[table] - 1],
            )
        if analyze:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _check_contract_numbers(cursor: Any, first_new: int) -> None:
    """Refuse contract numbers another creditor already uses: search would mix them up."""
    table = connection.ops.quote_name(Account._meta.db_table)
    cursor.execute(f"SELECT 1 FROM {table} WHERE id < %s LIMIT 1", [first_new])  # noqa: S608
    if cursor.fetchone() is None:
        return
    cursor.execute(
        f"""SELECT old.contract_no FROM {table} old WHERE old.id < %s AND old.contract_no IN
            (SELECT contract_no FROM {table} WHERE id >= %s) ORDER BY 1 LIMIT 5""",  # noqa: S608
        [first_new, first_new],
    )
    clashes = [row[0] for row in cursor.fetchall()]
    if clashes:
        raise DemoError(
            _("Contract numbers of the demo are already in use (%(numbers)s): nothing was loaded.")
            % {"numbers": ", ".join(clashes)}
        )
