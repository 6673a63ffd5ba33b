"""Forms of the cycle pages: start a run, pick a report's dates and portfolio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from huikuan.ledger.forms import DateInput

MAX_PARTITIONS = 64


class RunForm(forms.Form):
    as_of = forms.DateField(label=_("As-of date"), widget=DateInput())
    partitions = forms.IntegerField(
        label=_("Partitions"),
        min_value=1,
        max_value=MAX_PARTITIONS,
        initial=1,
        help_text=_("Each partition is a task of its own: more workers finish sooner."),
    )


def _date_choices(dates: Sequence[dt.date]) -> list[tuple[str, str]]:
    return [(d.isoformat(), d.isoformat()) for d in dates]


class _ReportForm(forms.Form):
    portfolio = forms.TypedChoiceField(
        label=_("Portfolio"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, portfolios: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "portfolio" in self.fields:
            choices: list[tuple[Any, Any]] = [("", _("All"))]
            field = cast(forms.ChoiceField, self.fields["portfolio"])
            field.choices = choices + [(p.pk, p.name) for p in portfolios]


class DoneDateForm(_ReportForm):
    """A date that has a finished run (the totals and snapshots exist only for those)."""

    as_of = forms.TypedChoiceField(label=_("As-of date"), coerce=dt.date.fromisoformat)

    def __init__(self, *args: Any, dates: Sequence[dt.date], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["as_of"]).choices = _date_choices(dates)


class SegmentDateForm(DoneDateForm):
    portfolio = None  # type: ignore[assignment]  # the totals are shown for every portfolio


class RollForm(_ReportForm):
    first = forms.TypedChoiceField(label=_("From date"), coerce=dt.date.fromisoformat)
    second = forms.TypedChoiceField(label=_("To date"), coerce=dt.date.fromisoformat)

    def __init__(self, *args: Any, dates: Sequence[dt.date], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("first", "second"):
            cast(forms.ChoiceField, self.fields[name]).choices = _date_choices(dates)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("first"), data.get("second")
        if first and second and first >= second:
            self.add_error("second", _("Choose a date after the from date."))
        return data


class ActionsForm(forms.Form):
    as_of = forms.DateField(label=_("Date"), widget=DateInput())
