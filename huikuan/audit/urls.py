# Included by huikuan.web.urls under audit/, so the name reads web:audit_log.
from django.urls import path

from huikuan.audit import views

urlpatterns = [
    path("", views.audit_log, name="audit_log"),
]
