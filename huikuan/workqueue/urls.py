"""Pages of the workqueue app (``web:`` namespace, see web/urls.py)."""

from django.urls import path

from huikuan.workqueue import views

urlpatterns = [
    path("work/", views.queue, name="queue"),
    path("work/next/", views.queue_next, name="queue_next"),
]
