"""Pages of import jobs: upload, column mapping, progress, result."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/job_list.html", {"jobs": []})
