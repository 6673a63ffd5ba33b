"""Pages of the workqueue app (``web:`` namespace, see web/urls.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
