"""Pages of the workqueue app: my queue, the next account."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse


def _account_url(pk: int) -> str:
    # The workbench belongs to the contact app; until it exists the ledger page stands in.
    try:
        return reverse("web:workbench", args=[pk])
    except NoReverseMatch:
        return reverse("web:account", args=[pk])


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "workqueue/queue.html", {"rows": []})


@login_required
def queue_next(request: HttpRequest) -> HttpResponse:
    return redirect("web:queue")
