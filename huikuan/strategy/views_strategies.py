"""Strategy versions: the list, a version with its steps (editable while a draft), a new
version, activating and retiring (see ``services`` for why activating retires nothing)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huikuan.lib.views import add_service_errors
from huikuan.strategy import services
from huikuan.strategy.forms import NewStrategyForm, StepFormSet, StrategyForm, steps_of
from huikuan.strategy.models import Segment, Strategy
from huikuan.strategy.views import require_manage, require_read


@login_required
def strategy_list(request: HttpRequest) -> HttpResponse:
    require_read(request.user)
    form = NewStrategyForm(
        request.POST or None, initial={"effective_from": timezone.localdate(), "key": "dpd"}
    )
    if request.method == "POST":
        require_manage(request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.strategy_create(actor=request.user, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("web:strategy_version", pk=created.pk)
    versions = Strategy.objects.prefetch_related("steps").order_by("code", "-version")
    used: dict[str, list[str]] = {}
    for segment in Segment.objects.filter(active=True).order_by("position"):
        for code in {segment.champion, segment.challenger} - {""}:
            used.setdefault(code, []).append(segment.name)
    groups: dict[str, dict[str, Any]] = {}
    for version in versions:
        group = groups.setdefault(
            version.code, {"code": version.code, "versions": [], "used": used.get(version.code)}
        )
        group["versions"].append(version)
    context = {
        "groups": list(groups.values()),
        "form": form,
        "can_manage": request.user.has_perm("strategy.manage_strategy"),
    }
    return render(
        request,
        "strategy/strategy_list.html",
        context,
        status=422 if request.method == "POST" else 200,
    )


def _step_initial(strategy: Strategy) -> list[dict[str, Any]]:
    fields = ("code", "name", "offset", "channel", "template", "team_kind", "repeat_every")
    return [{f: getattr(s, f) for f in fields} for s in strategy.steps.order_by("position")]


@login_required
def strategy_version(request: HttpRequest, pk: int) -> HttpResponse:
    require_read(request.user)
    strategy = get_object_or_404(Strategy, pk=pk)
    draft = strategy.status == Strategy.Status.DRAFT
    header = StrategyForm(
        request.POST or None,
        initial={
            "name": strategy.name,
            "key": strategy.key,
            "effective_from": strategy.effective_from,
            "effective_to": strategy.effective_to,
        },
    )
    steps = StepFormSet(request.POST or None, initial=_step_initial(strategy), prefix="steps")
    status = 200
    if request.method == "POST":
        require_manage(request.user)
        if header.is_valid() and steps.is_valid():
            try:
                services.strategy_update(
                    strategy=strategy, actor=request.user, **header.cleaned_data
                )
                services.strategy_steps_save(
                    strategy=strategy, steps=steps_of(steps), actor=request.user
                )
            except ValidationError as exc:
                add_service_errors(header, exc)
            else:
                messages.success(request, _("Version %(v)s saved.") % {"v": strategy.version})
                return redirect("web:strategy_version", pk=strategy.pk)
        status = 422
    others = Strategy.objects.filter(code=strategy.code).exclude(pk=strategy.pk)
    context = {
        "strategy": strategy,
        "header": header,
        "steps": steps,
        "saved_steps": strategy.steps.order_by("position"),
        "editable": draft and request.user.has_perm("strategy.manage_strategy"),
        "can_manage": request.user.has_perm("strategy.manage_strategy"),
        "others": others.order_by("-version"),
    }
    return render(request, "strategy/strategy_version.html", context, status=status)


@login_required
@require_POST
def strategy_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    require_manage(request.user)
    strategy = get_object_or_404(Strategy, pk=pk)
    draft = services.strategy_version_new(
        code=strategy.code, actor=request.user, effective_from=timezone.localdate()
    )
    messages.success(request, _("Version %(v)s created as a draft.") % {"v": draft.version})
    return redirect("web:strategy_version", pk=draft.pk)


@login_required
@require_POST
def strategy_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Activate a draft or retire an active version (``status`` in the form)."""
    require_manage(request.user)
    strategy = get_object_or_404(Strategy, pk=pk)
    try:
        changed = services.strategy_transition(
            strategy=strategy, status=request.POST.get("status", ""), actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Version %(v)s is now %(status)s.")
            % {"v": changed.version, "status": changed.get_status_display()},
        )
    return redirect("web:strategy_version", pk=strategy.pk)
