"""Pages of imports and exports (``web:`` namespace, see web/urls.py)."""

from django.urls import include, path

from huikuan.intake import views

urlpatterns = [
    path("imports/", views.job_list, name="import_list"),
    path("imports/<int:pk>/", views.job_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.job_progress, name="import_progress"),
    path("imports/<int:pk>/start/", views.job_start, name="import_start"),
    path("imports/<int:pk>/cancel/", views.job_cancel, name="import_cancel"),
    path("imports/<int:pk>/report/", views.job_report, name="import_report"),
    path("", include("huikuan.intake.urls_export")),
    path("", include("huikuan.intake.urls_payments")),
]
