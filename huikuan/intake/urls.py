"""Pages of imports and exports (``web:`` namespace, see web/urls.py)."""

from django.urls import include, path

from huikuan.intake import views

urlpatterns = [
    path("imports/", views.job_list, name="import_list"),
    path("", include("huikuan.intake.urls_export")),
    path("", include("huikuan.intake.urls_payments")),
]
