"""Pages of a payments import: the review of unmatched and ambiguous bank lines."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
