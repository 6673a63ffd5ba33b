"""Pages that download the ledger and the aging report as XLSX."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
