"""URLs of /api/v1/. Anything the API does not route still answers in the API's error body."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from huikuan.api.api import api, error_response


# Exempt: it changes nothing, and a POST to a wrong path should hear "no such endpoint".
@csrf_exempt
def unknown_endpoint(request: HttpRequest, rest: str = "") -> HttpResponse:
    # Without this, a typo in a path would get Django's HTML 404 page.
    return error_response(request, 404, "not_found", _("There is no such API endpoint."))


urlpatterns = [
    path("", api.urls),
    re_path(r"^(?P<rest>.*)$", unknown_endpoint),
]
