"""Forms of the segment and strategy editors: people's input in, ``domain`` values out."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from huikuan.iam.models import Team
from huikuan.ledger.forms import AmountField, DateInput
from huikuan.ledger.models import Debtor
from huikuan.strategy import domain
from huikuan.strategy.models import Strategy, StrategyStep
from huikuan.strategy.services import StepInput

CODE = re.compile(r"^[a-z][a-z0-9_]*$")
PROMISE_LABELS = {
    "none": _("No promise"),
    "open": _("Promise open"),
    "due_today": _("Promise due today"),
    "kept": _("Promise kept"),
    "broken": _("Promise broken"),
}
PLAN_LABELS = {
    "none": _("No plan"),
    "proposed": _("Plan proposed"),
    "active": _("Plan active"),
    "completed": _("Plan completed"),
    "broken": _("Plan broken"),
}


def _code_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=40,
        help_text=_("Lower-case letters, digits and _; never changes once saved."),
    )


def _clean_code(value: str) -> str:
    value = value.strip()
    if not CODE.match(value):
        raise forms.ValidationError(
            _("Use lower-case letters, digits and _, starting with a letter.")
        )
    return value


def _words(text: str) -> list[str]:
    """ "A, B、C D" → ["A", "B", "C", "D"]: lists typed with any separator people use."""
    return [w for w in re.split(r"[\s,，、;；]+", text or "") if w]


class SegmentForm(forms.Form):
    code = _code_field(_("Code"))
    name = forms.CharField(label=_("Name"), max_length=200)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        help_text=_("Segments are tried in this order; the first that matches takes the account."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    champion = forms.ChoiceField(label=_("Strategy"), required=False)
    challenger = forms.ChoiceField(label=_("Challenger strategy"), required=False)
    challenger_share_bp = forms.IntegerField(
        label=_("Challenger share (basis points)"),
        required=False,
        min_value=0,
        max_value=10_000,
        initial=0,
        help_text=_("1/10,000 of the segment's accounts: 1000 is 10%."),
    )
    # The conditions (domain.Condition); every condition given must hold.
    buckets = forms.MultipleChoiceField(
        label=_("Buckets"), required=False, widget=forms.CheckboxSelectMultiple
    )
    dpd_min = forms.IntegerField(label=_("DPD from"), required=False)
    dpd_max = forms.IntegerField(label=_("DPD to"), required=False)
    amount_min = AmountField(label=_("Outstanding from"), required=False)
    amount_max = AmountField(label=_("Outstanding to"), required=False)
    products = forms.CharField(label=_("Products"), required=False, max_length=500)
    debtor_kinds = forms.MultipleChoiceField(
        label=_("Debtor kind"),
        required=False,
        choices=Debtor.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    regions = forms.CharField(
        label=_("Regions"),
        required=False,
        max_length=500,
        help_text=_("Beginnings of the 6-digit division code: 44 is Guangdong, 4403 Shenzhen."),
    )
    score_min = forms.IntegerField(label=_("Score from"), required=False, min_value=0)
    score_max = forms.IntegerField(label=_("Score to"), required=False, max_value=1000)
    risk_grades = forms.CharField(label=_("Risk grades"), required=False, max_length=200)
    tags = forms.CharField(label=_("Tags (any of)"), required=False, max_length=500)
    promise_statuses = forms.MultipleChoiceField(
        label=_("Promise"),
        required=False,
        choices=list(PROMISE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    plan_statuses = forms.MultipleChoiceField(
        label=_("Payment plan"),
        required=False,
        choices=list(PLAN_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )

    RANGES = (("dpd_min", "dpd_max"), ("amount_min", "amount_max"), ("score_min", "score_max"))

    def __init__(
        self,
        *args: Any,
        buckets: list[tuple[str, str]],
        strategy_codes: list[str],
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["buckets"]).choices = buckets
        codes: list[tuple[str, Any]] = [("", _("None"))] + [(c, c) for c in strategy_codes]
        for name in ("champion", "challenger"):
            cast(forms.ChoiceField, self.fields[name]).choices = codes
        if editing:
            del self.fields["code"]

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for low, high in self.RANGES:
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, _("The upper bound is below the lower one."))
        if data.get("challenger_share_bp") and not data.get("challenger"):
            self.add_error(
                "challenger", _("Choose the challenger strategy, or set its share to 0.")
            )
        return data

    def conditions(self) -> dict[str, Any]:
        """The condition JSON of the valid fields (the preview reads it from a form that may
        still have errors elsewhere)."""
        data = self.cleaned_data

        def fen(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else int(Decimal(value) * 100)

        return domain.Condition(
            buckets=tuple(data.get("buckets") or ()),
            dpd_min=data.get("dpd_min"),
            dpd_max=data.get("dpd_max"),
            amount_min_fen=fen("amount_min"),
            amount_max_fen=fen("amount_max"),
            products=tuple(_words(data.get("products", ""))),
            debtor_kinds=tuple(data.get("debtor_kinds") or ()),
            regions=tuple(_words(data.get("regions", ""))),
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            risk_grades=tuple(_words(data.get("risk_grades", ""))),
            tags=tuple(_words(data.get("tags", ""))),
            promise_statuses=tuple(data.get("promise_statuses") or ()),
            plan_statuses=tuple(data.get("plan_statuses") or ()),
        ).to_json()

    def segment_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {k: data[k] for k in ("name", "position", "active", "champion", "challenger")}
        values["challenger_share_bp"] = data.get("challenger_share_bp") or 0
        values["conditions"] = self.conditions()
        return values


def segment_initial(segment: Any) -> dict[str, Any]:
    """The form's values for a saved segment."""
    c = domain.Condition.from_json(segment.conditions)

    def yuan(fen: int | None) -> str:
        return "" if fen is None else str(Decimal(fen) / 100)

    return {
        "name": segment.name,
        "position": segment.position,
        "active": segment.active,
        "champion": segment.champion,
        "challenger": segment.challenger,
        "challenger_share_bp": segment.challenger_share_bp,
        "buckets": list(c.buckets),
        "dpd_min": c.dpd_min,
        "dpd_max": c.dpd_max,
        "amount_min": yuan(c.amount_min_fen),
        "amount_max": yuan(c.amount_max_fen),
        "products": "、".join(c.products),
        "debtor_kinds": list(c.debtor_kinds),
        "regions": " ".join(c.regions),
        "score_min": c.score_min,
        "score_max": c.score_max,
        "risk_grades": " ".join(c.risk_grades),
        "tags": "、".join(c.tags),
        "promise_statuses": list(c.promise_statuses),
        "plan_statuses": list(c.plan_statuses),
    }


# --- strategies -------------------------------------------------------------------------------


class NewStrategyForm(forms.Form):
    code = _code_field(_("Code"))
    name = forms.CharField(label=_("Name"), max_length=200)
    key = forms.ChoiceField(label=_("Steps keyed by"), choices=Strategy.Key.choices)
    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


class StrategyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    key = forms.ChoiceField(label=_("Steps keyed by"), choices=Strategy.Key.choices)
    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    effective_to = forms.DateField(label=_("Effective until"), required=False, widget=DateInput())


class StepForm(forms.Form):
    code = _code_field(_("Code"))
    name = forms.CharField(label=_("Name"), max_length=200)
    offset = forms.IntegerField(label=_("From day"))
    channel = forms.ChoiceField(label=_("Channel"), choices=StrategyStep.Channel.choices)
    template = forms.CharField(label=_("Template or script"), required=False, max_length=80)
    team_kind = forms.ChoiceField(label=_("Owning team"), choices=Team.Kind.choices)
    repeat_every = forms.IntegerField(
        label=_("Repeat every (days)"), min_value=0, max_value=365, initial=0
    )

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


StepFormSet = forms.formset_factory(StepForm, extra=1, can_delete=True, max_num=50)


def steps_of(formset: Any) -> list[StepInput]:
    """The steps a valid formset holds (blank and deleted rows left out)."""
    steps = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE"):
            continue
        steps.append(
            StepInput(
                code=data["code"],
                name=data["name"],
                offset=data["offset"],
                channel=data["channel"],
                template=data.get("template") or "",
                team_kind=data["team_kind"],
                repeat_every=data.get("repeat_every") or 0,
            )
        )
    return steps
