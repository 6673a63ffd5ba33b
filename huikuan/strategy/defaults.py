"""The segmentation and strategies a new installation starts with.

From the course material: accounts not yet due get a reminder; light (1–30 days) a friendly
reminder and a confirmed repayment date; medium (31–90) more frequent contact and a repayment
agreement; heavy (91–180) stronger measures and a legal review; near bad debt (180+) litigation
or an agency. Each DPD band is split at 10,000 yuan: large balances go to senior teams sooner.
Managers change all of it; this is only the starting point.
"""

from __future__ import annotations

from typing import Any

from huikuan.strategy.domain import DEFAULT_SEGMENTS, LARGE_FEN

# code → (name, [(step code, name, offset, channel, template, team kind, repeat every)])
STRATEGIES: dict[str, tuple[str, list[tuple[str, str, int, str, str, str, int]]]] = {
    "reminder": (
        "到期提醒",
        [("sms_reminder", "到期前短信提醒", -3, "sms", "sms_due_soon", "phone", 0)],
    ),
    "light": (
        "轻度逾期：友好提醒",
        [
            ("friendly_call", "友好提醒电话", 1, "call", "script_opening_friendly", "phone", 3),
            ("email", "电子邮件提醒", 7, "email", "email_reminder", "phone", 0),
            ("demand_letter", "正式催款函", 15, "letter", "letter_demand", "phone", 0),
            ("firm_call", "坚定跟进电话", 16, "call", "script_pressing", "phone", 2),
        ],
    ),
    "medium": (
        "中度逾期：还款协议",
        [
            ("agreement_call", "还款协议电话", 31, "call", "script_plan_offer", "phone", 2),
            ("field_visit", "上门拜访", 45, "visit", "visit_checklist", "field", 0),
            ("lawyer_letter", "律师函", 60, "lawyer_letter", "letter_lawyer", "legal", 0),
            ("final_call", "律师函后跟进电话", 61, "call", "script_pressing", "phone", 3),
        ],
    ),
    "heavy": (
        "重度逾期：法律评估",
        [
            ("legal_review", "法律途径评估", 91, "legal", "legal_review", "legal", 0),
            ("heavy_call", "重度逾期跟进电话", 92, "call", "script_pressing", "phone", 5),
            ("agency", "委外催收", 120, "agency", "agency_placement", "agency", 0),
        ],
    ),
    "near_bad": (
        "临近坏账：诉讼或委外",
        [
            ("litigation_review", "诉讼评估", 181, "legal", "legal_review", "legal", 0),
            ("agency_late", "委外催收", 182, "agency", "agency_placement", "agency", 0),
        ],
    ),
}

# Large balances escalate to field visits and lawyers' letters sooner.
STRATEGIES["medium_large"] = (
    "中度逾期（大额）：尽早上门",
    [
        ("agreement_call", "还款协议电话", 31, "call", "script_plan_offer", "phone", 2),
        ("field_visit", "上门拜访", 35, "visit", "visit_checklist", "field", 0),
        ("lawyer_letter", "律师函", 50, "lawyer_letter", "letter_lawyer", "legal", 0),
        ("final_call", "律师函后跟进电话", 51, "call", "script_pressing", "phone", 3),
    ],
)


def segment_rows() -> list[dict[str, Any]]:
    """The default segments in order, as ``Segment`` field values."""
    rows: list[dict[str, Any]] = [
        {
            "code": "pre_due",
            "name": "即将到期",
            "conditions": {"dpd_min": -3, "dpd_max": 0},
            "champion": "reminder",
        }
    ]
    for code, name, low, high in DEFAULT_SEGMENTS:
        band = {"dpd_min": low, **({"dpd_max": high} if high is not None else {})}
        strategy = code
        large = "medium_large" if code == "medium" else code
        rows.append(
            {
                "code": f"{code}_large",
                "name": f"{name}（1万元以上）",
                "conditions": {**band, "amount_min_fen": LARGE_FEN},
                "champion": large,
            }
        )
        rows.append(
            {
                "code": f"{code}_small",
                "name": f"{name}（1万元以下）",
                "conditions": band,
                "champion": strategy,
            }
        )
    for position, row in enumerate(rows, start=1):
        row["position"] = position * 10
    return rows


EFFECTIVE_FROM = "2020-01-01"


def seed(apps: Any) -> None:
    """Create the defaults (a data migration calls this with its historical models)."""
    strategy_model = apps.get_model("strategy", "Strategy")
    step_model = apps.get_model("strategy", "StrategyStep")
    segment_model = apps.get_model("strategy", "Segment")
    for code, (name, steps) in STRATEGIES.items():
        strategy, created = strategy_model.objects.get_or_create(
            code=code,
            version=1,
            defaults={"name": name, "effective_from": EFFECTIVE_FROM, "status": "active"},
        )
        if created:
            step_model.objects.bulk_create(
                step_model(
                    strategy=strategy,
                    position=position,
                    code=step,
                    name=step_name,
                    offset=offset,
                    channel=channel,
                    template=template,
                    team_kind=team,
                    repeat_every=every,
                )
                for position, (
                    step,
                    step_name,
                    offset,
                    channel,
                    template,
                    team,
                    every,
                ) in enumerate(steps, start=1)
            )
    for row in segment_rows():
        segment_model.objects.get_or_create(code=row["code"], defaults=row)
