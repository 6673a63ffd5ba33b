"""Pages of the contact app (``web:`` namespace, see web/urls.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
