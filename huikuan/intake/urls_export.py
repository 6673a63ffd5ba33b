"""Pages that download the ledger and the aging report as XLSX (``web:`` namespace)."""

from django.urls import path

from huikuan.intake import views_export

urlpatterns = [
    path("ledger/export.xlsx", views_export.ledger_export, name="ledger_export"),
    path("aging/export.xlsx", views_export.aging_export, name="aging_export"),
    path("exports/<int:pk>/", views_export.export_detail, name="export_detail"),
    path("exports/<int:pk>/progress/", views_export.export_progress, name="export_progress"),
    path("exports/<int:pk>/file/", views_export.export_download, name="export_download"),
]
