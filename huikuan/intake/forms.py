"""Forms of the import pages: the upload and the column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from huikuan.intake.models import ImportJob
from huikuan.ledger.models import Creditor, Portfolio


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportJob.Kind.choices)
    creditor = forms.ModelChoiceField(label=_("Creditor"), queryset=Creditor.objects.all())
    portfolio = forms.ModelChoiceField(
        label=_("Portfolio"),
        queryset=Portfolio.objects.select_related("creditor"),
        required=False,
        help_text=_("Ledger files: may be left empty when the creditor has one portfolio."),
    )
    mode = forms.ChoiceField(
        label=_("When some rows have errors"),
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )
    dry_run = forms.BooleanField(label=_("Check only, write nothing"), required=False)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or Excel (.xlsx) in any encoding; bank statements also as camt.053."),
    )
    sheet = forms.CharField(
        label=_("Sheet"),
        required=False,
        max_length=100,
        help_text=_("Excel only; the first sheet when empty."),
    )

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)  # noqa: S101 - narrows the type
        kind.choices = [c for c in ImportJob.Kind.choices if c[0] in kinds]
        if len(kinds) == 1:
            kind.initial = kinds[0]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.HUIKUAN_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s; import it from the command line.")
                % {"limit": filesizeformat(limit)}
            )
        return upload


class MappingForm(forms.Form):
    """One choice per column of the file: the field it holds, or nothing."""

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        choices: list[tuple[str, str]],
        initial_mapping: dict[int, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        options = [("", _("(leave out)")), *choices]
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header or f"({index + 1})",
                choices=options,
                required=False,
                initial=initial_mapping.get(index, ""),
            )
        self.fields["save_profile"] = forms.BooleanField(
            label=_("Remember these columns for this creditor's next files"),
            required=False,
            initial=True,
        )

    def mapping(self) -> dict[int, str]:
        return {
            int(name.removeprefix("column_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("column_") and value
        }
