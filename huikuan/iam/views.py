"""Signing in and out, and each user's own API tokens."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from huikuan.iam import services
from huikuan.iam.models import User
from huikuan.iam.selectors import tokens_of
from huikuan.lib.views import add_service_errors


class LoginView(auth_views.LoginView):
    template_name = "iam/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"),
        max_length=100,
        help_text=gettext_lazy("What the token is for, e.g. “bank import”."),
    )


@never_cache
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; a POST creates one and shows its secret on this response only."""
    form = TokenForm(request.POST or None)
    created: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                user = cast(User, request.user)
                token, raw = services.token_create(
                    user=user, name=form.cleaned_data["name"], actor=user
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                # Not a redirect: the secret exists only in this response, never in a session.
                created, status, form = {"token": token, "raw": raw}, 201, TokenForm()
    context = {"form": form, "tokens": tokens_of(request.user), "created": created}
    return render(request, "iam/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own tokens: anybody else's is "not found", whoever asks.
    token = next((t for t in tokens_of(request.user) if t.pk == pk), None)
    if token is None:
        raise Http404
    services.token_revoke(token=token, actor=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("web:tokens")
